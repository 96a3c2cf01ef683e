/*
 * pareto.c — fronts, hypervolume subset selection and crowding distance.
 *
 * Non-dominated sorting peels fronts from a lexicographically sorted list:
 * a point's dominators all sort before it, and a dominated dominator is
 * itself dominated by something already in the front (transitivity), so one
 * pass that checks each remaining point against the front built so far finds
 * the front exactly. Fronts are peeled only until enough points are ranked:
 * TPE asks for its ~25 best among 1,000, and the first fronts hold them.
 *
 * Hypervolume work is 2-D only (a sort and a sweep). Optuna uses WFG for any
 * m; prunetune's studies are val_acc vs sparsity/latency/bytes, so 3+
 * objectives fall back to crowding distance (NSGA-II) — cheaper, documented
 * in pareto.h, and only the tie-break within one front differs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pareto.h"

#define HV_EPS 1e-12

typedef struct {
    const double *row;
    int idx, m;
} lex_item;

static int cmp_lex(const void *a, const void *b)
{
    const lex_item *x = a, *y = b;
    for (int c = 0; c < x->m; c++)
        if (x->row[c] != y->row[c])
            return x->row[c] < y->row[c] ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int dominates(const double *a, const double *b, int m)
{
    int better = 0;
    for (int c = 0; c < m; c++) {
        if (a[c] > b[c])
            return 0;
        better |= a[c] < b[c];
    }
    return better;
}

pt_status pt_nondominated_sort(const double *loss, int n, int m, int n_wanted, int *rank,
                               pt_err *err)
{
    if (n < 0 || m < 1 || m > PT_PARETO_MAX_M || (n > 0 && (!loss || !rank)))
        return pt_fail(err, PT_ERR_ARG, "pt_nondominated_sort: bad arguments (n %d, m %d)", n, m);
    if (n == 0)
        return PT_OK;
    lex_item *it = malloc(sizeof *it * (size_t)n);
    const double **front = malloc(sizeof *front * (size_t)n);
    if (!it || !front) {
        free(it);
        free(front);
        return pt_fail(err, PT_ERR_NOMEM, "pt_nondominated_sort: out of memory for %d points", n);
    }
    for (int i = 0; i < n; i++) {
        it[i] = (lex_item){loss + (size_t)i * (size_t)m, i, m};
        rank[i] = -1;
    }
    qsort(it, (size_t)n, sizeof *it, cmp_lex);
    if (n_wanted <= 0 || n_wanted > n)
        n_wanted = n;
    /* it[0..left) are the unranked points in lexicographic order; each round
     * compacts the dominated ones to its front (the write slot never passes
     * the read one) while the round's front rows are kept apart. */
    int left = n, ranked = 0;
    for (int r = 0; ranked < n_wanted && left > 0; r++) {
        int n_front = 0, kept = 0;
        for (int i = 0; i < left; i++) {
            int dom = 0;
            for (int f = 0; f < n_front && !dom; f++)
                dom = dominates(front[f], it[i].row, m);
            if (dom) {
                it[kept++] = it[i];
            } else {
                rank[it[i].idx] = r;
                front[n_front++] = it[i].row;
            }
        }
        ranked += n_front;
        left = kept;
    }
    free(it);
    free(front);
    return PT_OK;
}

/* Optuna's reference point: a little past the group's worst point. */
static void reference_point(const double *loss, int m, const int *idx, int n, double *ref)
{
    for (int c = 0; c < m; c++) {
        double w = -INFINITY;
        for (int j = 0; j < n; j++)
            w = fmax(w, loss[(size_t)idx[j] * (size_t)m + (size_t)c]);
        ref[c] = fmax(1.1 * w, 0.9 * w);
        if (ref[c] == 0)
            ref[c] = HV_EPS;
    }
}

static int all_finite(const double *loss, int m, const int *idx, int n)
{
    for (int j = 0; j < n; j++)
        for (int c = 0; c < m; c++)
            if (!isfinite(loss[(size_t)idx[j] * (size_t)m + (size_t)c]))
                return 0;
    return 1;
}

typedef struct {
    double a, b;
} pt2;

static int cmp_pt2(const void *x, const void *y)
{
    const pt2 *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

/* 2-D hypervolume of p[0..n), sorted by (a, b): the staircase swept left to right. */
static double hv2_sorted(const pt2 *p, int n, const double *ref)
{
    double hv = 0, prev = ref[1];
    for (int i = 0; i < n; i++)
        if (p[i].b < prev) {
            hv += (ref[0] - p[i].a) * (prev - p[i].b);
            prev = p[i].b;
        }
    return hv;
}

/* Sorted s[0..n) with c inserted in order, into t[0..n]. */
static void insert_sorted(const pt2 *s, int n, pt2 c, pt2 *t)
{
    int i = 0;
    for (; i < n && cmp_pt2(&s[i], &c) <= 0; i++)
        t[i] = s[i];
    t[i] = c;
    memcpy(t + i + 1, s + i, sizeof *s * (size_t)(n - i));
}

/* Greedy hypervolume subset selection: each step takes the point that adds
 * the most (ties: the first in idx). O(k * n_idx * k). */
static void hssp2(const double *loss, const int *idx, int n_idx, int k, int *out, pt2 *sel,
                  pt2 *tmp, unsigned char *taken)
{
    double ref[2];
    reference_point(loss, 2, idx, n_idx, ref);
    double hv = 0;
    for (int s = 0; s < k; s++) {
        int best = -1;
        double best_gain = -1;
        for (int j = 0; j < n_idx; j++) {
            if (taken[j])
                continue;
            pt2 c = {loss[(size_t)idx[j] * 2], loss[(size_t)idx[j] * 2 + 1]};
            insert_sorted(sel, s, c, tmp);
            double gain = hv2_sorted(tmp, s + 1, ref) - hv;
            if (gain > best_gain) {
                best_gain = gain;
                best = j;
            }
        }
        taken[best] = 1;
        out[s] = idx[best];
        pt2 c = {loss[(size_t)idx[best] * 2], loss[(size_t)idx[best] * 2 + 1]};
        insert_sorted(sel, s, c, tmp);
        memcpy(sel, tmp, sizeof *sel * (size_t)(s + 1));
        hv = hv2_sorted(sel, s + 1, ref);
    }
}

typedef struct {
    double key;
    int pos;
} keyed;

static int cmp_keyed(const void *x, const void *y)
{
    const keyed *p = x, *q = y;
    if (p->key != q->key)
        return p->key < q->key ? -1 : 1;
    return (p->pos > q->pos) - (p->pos < q->pos);
}

/* NSGA-II crowding distance; the k most isolated points (ties: first in idx). */
static void crowding(const double *loss, int m, const int *idx, int n_idx, int k, int *out,
                     keyed *ord, double *dist)
{
    for (int j = 0; j < n_idx; j++)
        dist[j] = 0;
    for (int c = 0; c < m; c++) {
        for (int j = 0; j < n_idx; j++)
            ord[j] = (keyed){loss[(size_t)idx[j] * (size_t)m + (size_t)c], j};
        qsort(ord, (size_t)n_idx, sizeof *ord, cmp_keyed);
        dist[ord[0].pos] = dist[ord[n_idx - 1].pos] = INFINITY;
        double range = ord[n_idx - 1].key - ord[0].key;
        if (!(range > 0) || !isfinite(range))
            continue;
        for (int j = 1; j + 1 < n_idx; j++)
            dist[ord[j].pos] += (ord[j + 1].key - ord[j - 1].key) / range;
    }
    for (int j = 0; j < n_idx; j++)
        ord[j] = (keyed){-dist[j], j};
    qsort(ord, (size_t)n_idx, sizeof *ord, cmp_keyed);
    for (int s = 0; s < k; s++)
        out[s] = idx[ord[s].pos];
}

pt_status pt_front_select(const double *loss, int m, const int *idx, int n_idx, int k, int *out,
                          pt_err *err)
{
    if (m < 1 || m > PT_PARETO_MAX_M || n_idx < 0 || k < 0 || k > n_idx)
        return pt_fail(err, PT_ERR_ARG, "pt_front_select: bad arguments (m %d, k %d of %d)", m, k,
                       n_idx);
    if (k == 0)
        return PT_OK;
    size_t n = (size_t)n_idx;
    void *a = malloc((sizeof(pt2) > sizeof(keyed) ? sizeof(pt2) : sizeof(keyed)) * (n + 1));
    void *b = malloc((sizeof(pt2) > sizeof(double) ? sizeof(pt2) : sizeof(double)) * (n + 1));
    unsigned char *taken = calloc(n, 1);
    if (!a || !b || !taken) {
        free(a);
        free(b);
        free(taken);
        return pt_fail(err, PT_ERR_NOMEM, "pt_front_select: out of memory for %d points", n_idx);
    }
    if (m == 2 && all_finite(loss, m, idx, n_idx))
        hssp2(loss, idx, n_idx, k, out, a, b, taken);
    else
        crowding(loss, m, idx, n_idx, k, out, a, b);
    free(a);
    free(b);
    free(taken);
    return PT_OK;
}

pt_status pt_hv_contributions(const double *loss, int m, const int *idx, int n, double *contrib,
                              pt_err *err)
{
    if (m < 1 || m > PT_PARETO_MAX_M || n < 0)
        return pt_fail(err, PT_ERR_ARG, "pt_hv_contributions: bad arguments (m %d, n %d)", m, n);
    if (m != 2 || !all_finite(loss, m, idx, n)) {
        for (int j = 0; j < n; j++)
            contrib[j] = 1;
        return PT_OK;
    }
    pt2 *all = malloc(sizeof *all * (size_t)(n ? n : 1));
    pt2 *rest = malloc(sizeof *rest * (size_t)(n ? n : 1));
    if (!all || !rest) {
        free(all);
        free(rest);
        return pt_fail(err, PT_ERR_NOMEM, "pt_hv_contributions: out of memory for %d points", n);
    }
    double ref[2];
    reference_point(loss, 2, idx, n, ref);
    for (int j = 0; j < n; j++)
        all[j] = (pt2){loss[(size_t)idx[j] * 2], loss[(size_t)idx[j] * 2 + 1]};
    qsort(all, (size_t)n, sizeof *all, cmp_pt2);
    double hv = hv2_sorted(all, n, ref);
    for (int j = 0; j < n; j++) {
        pt2 me = {loss[(size_t)idx[j] * 2], loss[(size_t)idx[j] * 2 + 1]};
        /* all without one copy of me, still sorted */
        int r = 0, skipped = 0;
        for (int i = 0; i < n; i++) {
            if (!skipped && all[i].a == me.a && all[i].b == me.b) {
                skipped = 1;
                continue;
            }
            rest[r++] = all[i];
        }
        contrib[j] = hv - hv2_sorted(rest, r, ref);
    }
    free(all);
    free(rest);
    return PT_OK;
}
