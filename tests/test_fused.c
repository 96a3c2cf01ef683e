/*
 * test_fused.c — the fast paths of issue 12 against straightforward
 * references: magnitude pruning by radix select chooses exactly the set the
 * old sort of (|w|, position) pairs chose (many ties, zeros, the global
 * per-layer budget, a real trained network); the fused optimizer pass
 * follows optim.h's rules element by element for every optimizer x mask x
 * L1 x L2 x decay x max-norm; dropout's counter-based generator keeps its
 * rate, is the documented pure function of the seed, and differs between
 * batches and seeds.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allclose.h"
#include "config.h"
#include "data_open.h"
#include "net.h"
#include "optim.h"
#include "prune.h"
#include "rng.h"
#include "train.h"

/* ---- selection == sort ----------------------------------------------------- */

typedef struct {
    float key;
    uint32_t layer, pos;
} ref_ranked;

static int ref_cmp(const void *a, const void *b)
{
    const ref_ranked *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The sort-based magnitude pruning prune.c had before selection, written
 * out again: sort (|w|, position) pairs; layer-wise takes each layer's
 * first round(s n) (at most n - 1); global walks the whole order and prunes
 * while the weight's layer has budget (all but ceil(1%), at least 1 kept)
 * until round(s total) are pruned. Writes 0 into mask and w. */
static void ref_magnitude(const pt_net *m, float *w, float *mask, double s, int global,
                          int include_output)
{
    size_t total = 0, start[PT_NET_MAX_LAYERS + 1], k = 0;
    for (int l = 0; l < m->n_layers; l++)
        if (include_output || l + 1 < m->n_layers)
            total += (size_t)m->layer[l].n_in * m->layer[l].n_out;
    ref_ranked *r = malloc(sizeof(ref_ranked) * (total ? total : 1));
    cr_assert_not_null(r);
    for (int l = 0; l < m->n_layers; l++) {
        start[l] = k;
        if (!(include_output || l + 1 < m->n_layers))
            continue;
        const pt_layer *L = &m->layer[l];
        for (size_t i = 0; i < (size_t)L->n_in * L->n_out; i++)
            r[k++] = (ref_ranked){fabsf(w[L->off + i]), (uint32_t)l, (uint32_t)(L->off + i)};
    }
    start[m->n_layers] = k;
    if (global) {
        long budget[PT_NET_MAX_LAYERS], want = lround(s * (double)total);
        for (int l = 0; l < m->n_layers; l++) {
            long nw = (long)(start[l + 1] - start[l]), keep = (long)ceil(0.01 * nw);
            budget[l] = nw - (keep < 1 ? 1 : keep);
        }
        qsort(r, total, sizeof *r, ref_cmp);
        for (size_t i = 0; i < total && want > 0; i++)
            if (budget[r[i].layer] > 0) {
                budget[r[i].layer]--;
                want--;
                w[r[i].pos] = mask[r[i].pos] = 0.0f;
            }
    } else {
        for (int l = 0; l < m->n_layers; l++) {
            size_t nw = start[l + 1] - start[l];
            if (!nw)
                continue;
            size_t want = (size_t)lround(s * (double)nw);
            want = want >= nw ? nw - 1 : want;
            qsort(r + start[l], nw, sizeof *r, ref_cmp);
            for (size_t i = 0; i < want; i++)
                w[r[start[l] + i].pos] = mask[r[start[l] + i].pos] = 0.0f;
        }
    }
    free(r);
}

/* Prunes net to each target in turn (a schedule: the zeros of one event
 * are ties at the next) with one reused workspace, and the reference on a
 * copy; the masks and weights must be identical after every event. */
static void check_against_sort(pt_net *net, const double *targets, int n_targets, int global,
                               int include_output, const char *what)
{
    pt_err err;
    cr_assert_eq(pt_net_mask_enable(net, &err), PT_OK);
    size_t np = net->n_params;
    float *w = malloc(sizeof(float) * np), *mask = malloc(sizeof(float) * np);
    cr_assert(w && mask);
    memcpy(w, net->params, sizeof(float) * np);
    memcpy(mask, net->mask, sizeof(float) * np);
    pt_prune_config p = {.granularity = global ? PT_GRAN_GLOBAL : PT_GRAN_LAYER,
                         .prune_output = include_output,
                         .sparsity = targets[n_targets - 1]};
    pt_prune_ws ws = {0};
    for (int t = 0; t < n_targets; t++) {
        cr_assert_eq(pt_prune_to_ws(net, &p, targets[t], &ws, &err), PT_OK, "%s", err.msg);
        ref_magnitude(net, w, mask, targets[t], global, include_output);
        long diff = 0, first = -1;
        for (size_t i = 0; i < np; i++)
            if (mask[i] != net->mask[i] || memcmp(&w[i], &net->params[i], sizeof(float)) != 0) {
                diff++;
                first = first < 0 ? (long)i : first;
            }
        cr_assert_eq(diff, 0, "%s, target %.4f: %ld positions differ from the sort, first %ld",
                     what, targets[t], diff, first);
        /* pt_sparsity_total's fast count agrees with pt_sparsity_of. */
        pt_sparsity s;
        pt_sparsity_of(net, &s);
        cr_assert_eq(pt_sparsity_total(net), (double)s.total_zeros / (double)s.total_weights);
    }
    pt_prune_ws_free(&ws);
    free(w);
    free(mask);
}

static void make_net(pt_net *net, int n_in, const int *hidden, int n_hidden, uint64_t seed)
{
    pt_rng rng;
    pt_err err;
    pt_rng_seed(&rng, seed);
    cr_assert_eq(pt_net_init_dense(net, n_in, hidden, n_hidden, 10, 8, &rng, &err), PT_OK, "%s",
                 err.msg);
}

/* Weights drawn from a handful of magnitudes, both signs, a third exactly
 * zero, some -0.0f, some subnormal: nearly every key is a tie, so the
 * position tie-break decides most of the chosen set. */
static void tie_weights(pt_net *net, uint64_t seed)
{
    pt_rng rng;
    pt_rng_seed(&rng, seed);
    static const float level[] = {0.0f, 0.0f, 0.0f, -0.0f, 1e-40f, 0.01f, 0.01f, 0.02f, 0.5f, 3.0f};
    for (int l = 0; l < net->n_layers; l++) {
        pt_layer *L = &net->layer[l];
        for (size_t i = 0; i < (size_t)L->n_in * L->n_out; i++) {
            float v = level[pt_rng_below(&rng, 10)];
            L->w[i] = pt_rng_below(&rng, 2) ? -v : v;
        }
    }
}

Test(fused, selection_picks_the_sorted_set_with_many_ties)
{
    static const double sched[] = {0.05, 0.2, 0.33, 0.34, 0.5, 0.8, 0.9, 0.97, 0.995, 0.9999};
    int hidden[] = {96, 40};
    for (int global = 0; global <= 1; global++)
        for (int out = 0; out <= 1; out++) {
            pt_net net;
            make_net(&net, 150, hidden, 2, 3);
            tie_weights(&net, 100 + (uint64_t)(2 * global + out));
            char what[64];
            snprintf(what, sizeof what, "ties, %s, output %s", global ? "global" : "layer-wise",
                     out ? "pruned" : "kept");
            check_against_sort(&net, sched, sizeof sched / sizeof sched[0], global, out, what);
            pt_net_free(&net);
        }
}

/* Global pruning whose per-layer budget binds: the first layer's weights
 * are 1000x smaller, so the sort would take all of them first; the budget
 * keeps ceil(1%) and the rest comes from the other layers. */
Test(fused, selection_honours_the_global_budget_like_the_sort)
{
    static const double sched[] = {0.3, 0.6, 0.75, 0.9, 0.99};
    int hidden[] = {120, 30};
    pt_net net;
    make_net(&net, 200, hidden, 2, 5);
    for (size_t i = 0; i < (size_t)net.layer[0].n_in * net.layer[0].n_out; i++)
        net.layer[0].w[i] *= 1e-3f;
    net.layer[1].w[7] = net.layer[0].w[3]; /* a tie across layers */
    check_against_sort(&net, sched, sizeof sched / sizeof sched[0], 1, 1, "budget binds");
    long kept = 0;
    for (size_t i = 0; i < (size_t)net.layer[0].n_in * net.layer[0].n_out; i++)
        kept += net.mask[net.layer[0].off + i] != 0.0f;
    cr_assert_eq(kept, (long)ceil(0.01 * net.layer[0].n_in * net.layer[0].n_out),
                 "the small layer keeps exactly its 1%%");
    pt_net_free(&net);
}

/* LeNet-300-100 trained on real rows, with L1 making exact zeros of its
 * own, pruned along a gradual schedule: the size and the distribution of
 * keys the selection meets in a study. */
Test(fused, selection_picks_the_sorted_set_on_a_trained_lenet)
{
    pt_config c;
    pt_config_defaults(&c);
    snprintf(c.data.dir, sizeof c.data.dir, "%s", PT_FASHION_DIR);
    c.data.limit = 1000;
    c.data.test_limit = 100;
    c.data.val_fraction = 0;
    c.net.n_hidden = 2;
    c.net.hidden[0] = 300;
    c.net.hidden[1] = 100;
    c.train.epochs = 1;
    c.train.batch_size = 50;
    c.reg.l1 = 2e-3;
    pt_data d;
    pt_err err;
    memset(&d, 0, sizeof d);
    cr_assert_eq(pt_data_open(&d, &c.data, c.seed, &err), PT_OK, "%s", err.msg);
    pt_net net;
    pt_train_result r;
    cr_assert_eq(pt_train(&c, &d, &net, NULL, NULL, &r, &err), PT_OK, "%s", err.msg);
    cr_assert_gt(pt_sparsity_total(&net), 0.01, "L1 left exact zeros to tie on");
    float *orig = malloc(sizeof(float) * net.n_params);
    cr_assert_not_null(orig);
    memcpy(orig, net.params, sizeof(float) * net.n_params);
    static const double sched[] = {0.1, 0.4, 0.7, 0.85, 0.91};
    for (int global = 0; global <= 1; global++) {
        memcpy(net.params, orig, sizeof(float) * net.n_params);
        free(net.mask);
        net.mask = NULL;
        check_against_sort(&net, sched, 5, global, 1, global ? "lenet global" : "lenet layer");
    }
    free(orig);
    pt_net_free(&net);
    pt_data_close(&d);
}

/* ---- the fused update == optim.h's rules -------------------------------- */

typedef struct {
    const char *name;
    pt_opt_kind kind;
    int nesterov;
} rule;

/* optim.h's update rules for one element, in float, in the documented
 * order. *mag gets the sum of the magnitudes of the terms that make the new
 * weight (|w|, |step u|, |lr decay w|, lr l1), for the tolerance below. */
static void ref_update(const rule *r, const pt_train_config *tc, float bc1, float bc2, float *w,
                       float g, float mask, float *m, float *v, const pt_step *s, int masked,
                       double *mag)
{
    float mu = (float)tc->momentum, b1 = (float)tc->beta1, b2 = (float)tc->beta2,
          eps = (float)tc->eps;
    float keep = masked ? mask : 1.0f;
    float gi = keep * g + s->l2 * *w, u, step = s->lr;
    if (r->kind == PT_OPT_ADAM) {
        *m = b1 * *m + (1.0f - b1) * gi;
        *v = b2 * *v + (1.0f - b2) * gi * gi;
        u = *m / (sqrtf(*v) * (1.0f / sqrtf(bc2)) + eps);
        step = s->lr / bc1;
    } else {
        *m = mu * *m + gi;
        u = r->nesterov ? gi + mu * *m : *m;
    }
    float shrink = s->lr * s->decay, thr = s->lr * s->l1;
    *mag = fabsf(*w) + fabsf(step * u) + fabsf(shrink * *w) + thr;
    float nw = *w - step * u - shrink * *w;
    if (thr > 0.0f) {
        float a = fabsf(nw) - thr;
        nw = a > 0.0f ? copysignf(a, nw) : 0.0f;
    }
    *w = keep * nw;
}

/* Both sides evaluate the same expressions in the same order, and the
 * build contracts nothing into FMAs (-std=c11 implies -ffp-contract=off),
 * so here they agree bit for bit. A compiler that fuses a multiply-add on
 * one side only changes one rounding (u = 2^-24 relative to the larger
 * term) at each of the <= 8 operations an element goes through, and an
 * Adam u carries ~8 roundings of its own into step u: 16u times the sum of
 * the terms' magnitudes bounds the difference. Max-norm's scale is a
 * float-rounded ratio of double sums: one more rounding, u |w|. The state
 * is a sum of two or three products: 8u of its terms. */
Test(fused, update_follows_the_documented_rules_for_every_variant)
{
    static const rule rules[] = {{"sgd", PT_OPT_SGD, 0},
                                 {"nesterov", PT_OPT_SGD, 1},
                                 {"adam", PT_OPT_ADAM, 0}};
    enum { ROWS = 37, COLS = 29, N = ROWS * COLS }; /* not a multiple of any vector width */
    static float w[N], g[N], mask[N], rw[N], rm[N], rv[N], w0[N], m0[N], v0[N];
    static double mag[N];
    pt_rng rng;
    pt_rng_seed(&rng, 42);
    for (size_t ri = 0; ri < 3; ri++)
        for (int variant = 0; variant < 32; variant++) {
            int masked = variant & 1, l1 = variant >> 1 & 1, l2 = variant >> 2 & 1,
                decay = variant >> 3 & 1, maxnorm = variant >> 4 & 1;
            const rule *r = &rules[ri];
            pt_train_config tc = {.optimizer = r->kind,
                                  .momentum = 0.9,
                                  .nesterov = r->nesterov,
                                  .beta1 = 0.9,
                                  .beta2 = 0.999,
                                  .eps = 1e-8};
            pt_optim o;
            pt_err err;
            cr_assert_eq(pt_optim_init(&o, &tc, N, &err), PT_OK);
            for (int i = 0; i < N; i++) {
                w[i] = (float)(0.3 * pt_rng_normal(&rng));
                mask[i] = pt_rng_below(&rng, 10) < 3 ? 0.0f : 1.0f;
                if (masked && mask[i] == 0.0f)
                    w[i] = 0.0f;
            }
            pt_step s = {.lr = r->kind == PT_OPT_ADAM ? 1e-2f : 0.05f,
                         .l2 = l2 ? 1e-2f : 0.0f,
                         .decay = decay ? 5e-2f : 0.0f,
                         .l1 = l1 ? 0.5f : 0.0f, /* lr l1 of 0.005-0.025: some weights hit 0 */
                         .max_norm = maxnorm ? 0.9f : 0.0f,
                         .row = COLS};
            long zeroed = 0, scaled_rows = 0;
            for (int t = 0; t < 4; t++) {
                for (int i = 0; i < N; i++)
                    g[i] = (float)pt_rng_normal(&rng);
                pt_optim_begin_step(&o);
                memcpy(rw, w, sizeof w);
                memcpy(w0, w, sizeof w);
                memcpy(m0, o.m, sizeof m0);
                memcpy(rm, o.m, sizeof rm);
                if (o.v) {
                    memcpy(v0, o.v, sizeof v0);
                    memcpy(rv, o.v, sizeof rv);
                }
                pt_optim_update(&o, w, g, masked ? mask : NULL, 0, N, &s);
                for (int row = 0; row < ROWS; row++) {
                    double ss = 0.0;
                    for (int i = row * COLS; i < (row + 1) * COLS; i++) {
                        ref_update(r, &tc, o.bc1, o.bc2, &rw[i], g[i], mask[i], &rm[i], &rv[i],
                                   &s, masked, &mag[i]);
                        ss += (double)rw[i] * rw[i];
                    }
                    float f = 1.0f;
                    if (maxnorm && ss > (double)s.max_norm * s.max_norm) {
                        f = (float)(s.max_norm / sqrt(ss));
                        scaled_rows++;
                    }
                    for (int i = row * COLS; i < (row + 1) * COLS; i++) {
                        rw[i] *= f;
                        double tol = 16.0 * PT_U_F32 * mag[i] + PT_U_F32 * fabsf(rw[i]);
                        pt_assert_close(w[i], rw[i], 0, tol, "%s variant %d step %d w[%d]",
                                        r->name, variant, t, i);
                        double gmag = fabsf(g[i]) + fabsf(s.l2 * w0[i]);
                        pt_assert_close(o.m[i], rm[i], 0,
                                        8.0 * PT_U_F32 * (fabsf(m0[i]) + gmag + fabsf(rm[i])),
                                        "%s variant %d step %d m[%d]", r->name, variant, t, i);
                        if (o.v)
                            pt_assert_close(o.v[i], rv[i], 0,
                                            8.0 * PT_U_F32 * (fabsf(v0[i]) + gmag * gmag),
                                            "%s variant %d step %d v[%d]", r->name, variant, t,
                                            i);
                        if (masked && mask[i] == 0.0f)
                            cr_assert_eq(w[i], 0.0f, "a masked weight stays 0");
                        zeroed += (!masked || mask[i] != 0.0f) && w[i] == 0.0f;
                    }
                }
                /* Both sides go on from the same state. */
                memcpy(w, rw, sizeof w);
                memcpy(o.m, rm, sizeof rm);
                if (o.v)
                    memcpy(o.v, rv, sizeof rv);
            }
            /* The variants were exercised, not skipped. */
            if (l1)
                cr_assert_gt(zeroed, 0, "%s variant %d: L1 zeroed nothing", r->name, variant);
            if (maxnorm)
                cr_assert_gt(scaled_rows, 0, "%s variant %d: max-norm never bound", r->name,
                             variant);
            pt_optim_free(&o);
        }
}

/* Segments at an offset (how the trainer updates one layer, and how packed
 * sparse arrays call it with mask NULL) touch exactly their elements. */
Test(fused, update_of_a_segment_touches_only_that_segment)
{
    pt_train_config tc = {.optimizer = PT_OPT_SGD, .momentum = 0.9};
    pt_optim o;
    pt_err err;
    enum { N = 100 };
    float w[N], g[N], w0[N];
    for (int i = 0; i < N; i++) {
        w[i] = w0[i] = (float)i;
        g[i] = 1.0f;
    }
    cr_assert_eq(pt_optim_init(&o, &tc, N, &err), PT_OK);
    pt_optim_begin_step(&o);
    pt_step s = {.lr = 0.5f, .l1 = 0.1f};
    pt_optim_update(&o, w, g, NULL, 17, 33, &s);
    for (int i = 0; i < N; i++) {
        int in = i >= 17 && i < 50;
        if (in) /* w - 0.5 * 1, then the L1 step of 0.05 toward 0 */
            cr_assert_eq(w[i], fmaxf(w0[i] - 0.5f - 0.05f, 0.0f), "w[%d] = %g", i, w[i]);
        else
            cr_assert_eq(w[i], w0[i], "w[%d] outside the segment changed", i);
        cr_assert_eq(o.m[i], in ? 1.0f : 0.0f);
    }
    pt_optim_free(&o);
}

/* ---- dropout ------------------------------------------------------------------ */

/* net.c's generator, written out: two rounds of lowbias32, keyed by the
 * 64-bit draw of the layer. */
static uint32_t ref_lowbias32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x21f0aaadu;
    x ^= x >> 15;
    x *= 0x735a2d97u;
    x ^= x >> 15;
    return x;
}

static int ref_dropped(uint64_t key, uint32_t i, float rate)
{
    uint32_t h = ref_lowbias32(ref_lowbias32(i * 0x9e3779b9u + (uint32_t)key) ^
                               (uint32_t)(key >> 32));
    return h < (uint32_t)((double)rate * 4294967296.0 + 0.5);
}

/* A network whose every unit is 1 before dropout: ones in, zero weights,
 * biases 1; a unit is then exactly 0 (dropped) or exactly 1/(1-rate). */
static void ones_net(pt_net *net, int cap)
{
    int hidden[] = {512, 256};
    pt_rng init;
    pt_err err;
    pt_rng_seed(&init, 1);
    cr_assert_eq(pt_net_init_dense(net, 784, hidden, 2, 10, cap, &init, &err), PT_OK);
    memset(net->params, 0, sizeof(float) * net->n_params);
    for (int l = 0; l + 1 < net->n_layers; l++)
        for (int j = 0; j < net->layer[l].n_out; j++)
            net->layer[l].b[j] = 1.0f;
}

static void fill_ones(pt_net *net, int n)
{
    for (size_t i = 0; i < (size_t)n * net->sizes[0]; i++)
        net->act[0][i] = 1.0f;
}

Test(fused, dropout_keeps_its_rate_and_is_a_function_of_the_seed)
{
    enum { CAP = 256 };
    static const float rate[3] = {0.2f, 0.03f, 0.5f};
    pt_net net;
    ones_net(&net, CAP);
    for (int l = 0; l < 3; l++)
        net.drop[l] = rate[l];
    pt_rng rng, ref;
    pt_rng_seed(&rng, 2024);
    pt_rng_seed(&ref, 2024);
    long dropped[3] = {0}, units[3] = {0};
    for (int batch = 0; batch < 4; batch++) {
        fill_ones(&net, CAP);
        pt_net_forward_train(&net, CAP, &rng);
        /* One key per layer with dropout, input first. */
        for (int l = 0; l < 3; l++) {
            uint64_t key = pt_rng_next(&ref);
            size_t count = (size_t)CAP * net.sizes[l];
            float kept = 1.0f * (1.0f / (1.0f - rate[l]));
            for (size_t i = 0; i < count; i++) {
                int d = ref_dropped(key, (uint32_t)i, rate[l]);
                cr_assert_eq(net.act[l][i], d ? 0.0f : kept,
                             "batch %d layer %d unit %zu: %g, the generator says %s", batch, l,
                             i, net.act[l][i], d ? "dropped" : "kept");
                dropped[l] += d;
            }
            units[l] += (long)count;
        }
    }
    /* Binomial(N, p): 6 standard deviations, a false alarm < 2e-9 per
     * layer if the bits were truly random. */
    for (int l = 0; l < 3; l++) {
        double p = rate[l], n = (double)units[l], sd = sqrt(n * p * (1.0 - p));
        cr_assert_leq(fabs((double)dropped[l] - n * p), 6.0 * sd,
                      "layer %d: %ld of %ld dropped at rate %g (6 sd = %.0f)", l, dropped[l],
                      units[l], p, 6.0 * sd);
    }

    /* The same seed again: the same masks; another seed: others. */
    float *first = malloc(sizeof(float) * CAP * 512);
    cr_assert_not_null(first);
    pt_rng a, b, c;
    pt_rng_seed(&a, 7);
    pt_rng_seed(&b, 7);
    pt_rng_seed(&c, 8);
    fill_ones(&net, CAP);
    pt_net_forward_train(&net, CAP, &a);
    memcpy(first, net.act[1], sizeof(float) * CAP * 512);
    fill_ones(&net, CAP);
    pt_net_forward_train(&net, CAP, &b);
    cr_assert_arr_eq(net.act[1], first, sizeof(float) * CAP * 512, "same seed, same mask");
    fill_ones(&net, CAP);
    pt_net_forward_train(&net, CAP, &c);
    cr_assert(memcmp(net.act[1], first, sizeof(float) * CAP * 512) != 0, "another seed");
    fill_ones(&net, CAP);
    pt_net_forward_train(&net, CAP, &a);
    cr_assert(memcmp(net.act[1], first, sizeof(float) * CAP * 512) != 0, "the next batch");
    free(first);
    pt_net_free(&net);
}

/* Adjacent units are independent: in each row of a layer, the number of
 * (dropped, dropped) neighbour pairs matches p^2 per pair (a generator
 * with short-range correlation, e.g. one draw shared by neighbours, would
 * show far more). */
Test(fused, dropout_neighbours_are_independent)
{
    enum { CAP = 256 };
    pt_net net;
    ones_net(&net, CAP);
    net.drop[1] = 0.5f;
    pt_rng rng;
    pt_rng_seed(&rng, 99);
    long pairs = 0, both = 0;
    for (int batch = 0; batch < 4; batch++) {
        fill_ones(&net, CAP);
        pt_net_forward_train(&net, CAP, &rng);
        for (int i = 0; i < CAP; i++)
            for (int j = 0; j + 1 < 512; j++) {
                const float *a = net.act[1] + (size_t)i * 512;
                both += a[j] == 0.0f && a[j + 1] == 0.0f;
                pairs++;
            }
    }
    /* Overlapping pairs are 1-dependent: variance <= 3 N p^2 (1 - p^2)
     * bounds it; 6 of those standard deviations. */
    double p2 = 0.25, sd = sqrt(3.0 * (double)pairs * p2 * (1.0 - p2));
    cr_assert_leq(fabs((double)both - (double)pairs * p2), 6.0 * sd,
                  "%ld of %ld neighbour pairs both dropped", both, pairs);
    pt_net_free(&net);
}
