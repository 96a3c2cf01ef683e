/*
 * sampler_grid.c — every point of the grid once, in grid order.
 *
 * The grid (study_grid_point: parameter 0 varies slowest, points a condition
 * makes equal counted once) is at most 1,000,000 points, so the state is one
 * byte per point plus a fail count: O(N) memory, O(1) amortised per ask
 * thanks to a cursor that only moves forward over untried points.
 *
 * Which points are free: not RUNNING (asked, not told) and not finished
 * (COMPLETE or PRUNED). A FAILed point is tried once more, after every
 * untried point: a run that died leaves its RUNNING trials FAILed on resume,
 * and those must not become holes in the grid; a point that fails twice
 * (a configuration that diverges, say) is given up. When nothing is free
 * ask() returns PT_ERR_STOPPED; running points may still fail and free
 * themselves again, so a later ask can succeed.
 */
#include <stdlib.h>
#include <string.h>

#include "sampler_impl.h"
#include "study_internal.h"

enum { G_FREE = 0, G_RUNNING = 1, G_DONE = 2, G_DUPLICATE = 3 };
enum { MAX_TRIES = 2 }; /* first try + one retry after a failure */

typedef struct {
    long n;
    unsigned char *state;   /* G_* per grid index */
    unsigned char *fails;   /* FAIL tells per grid index, saturating at MAX_TRIES */
    long cursor[MAX_TRIES]; /* cursor[k]: no free point with k fails lies before it */
} grid;

static pt_status grid_init(sampler *sm, pt_err *err)
{
    long n = study_grid_size(sm->s);
    if (n <= 0)
        return pt_fail(err, PT_ERR_CONFIG, "grid sampler: a float parameter has no grid list");
    grid *g = calloc(1, sizeof *g);
    if (g) {
        g->state = malloc((size_t)n);
        g->fails = calloc((size_t)n, 1);
    }
    if (!g || !g->state || !g->fails) {
        if (g) {
            free(g->state);
            free(g->fails);
        }
        free(g);
        return pt_fail(err, PT_ERR_NOMEM, "grid sampler: out of memory for %ld points", n);
    }
    g->n = n;
    study_point p;
    for (long i = 0; i < n; i++)
        g->state[i] = study_grid_point(sm->s, i, &p) ? G_FREE : G_DUPLICATE;
    sm->impl = g;
    return PT_OK;
}

static pt_status grid_ask(sampler *sm, int number, study_point *out, pt_err *err)
{
    (void)number;
    grid *g = sm->impl;
    for (int k = 0; k < MAX_TRIES; k++) {
        long *c = &g->cursor[k];
        while (*c < g->n && (g->state[*c] != G_FREE || g->fails[*c] != k))
            (*c)++;
        if (*c < g->n) {
            g->state[*c] = G_RUNNING;
            study_grid_point(sm->s, *c, out);
            return PT_OK;
        }
    }
    return pt_fail(err, PT_ERR_STOPPED, "grid sampler: every point is done or running");
}

static void grid_tell(sampler *sm, int number, const study_point *p, trial_state st,
                      const double *values)
{
    (void)number, (void)values;
    grid *g = sm->impl;
    long i = study_grid_index(sm->s, p);
    if (i < 0 || i >= g->n || g->state[i] == G_DUPLICATE)
        return; /* not a point of this grid (e.g. a trial of an older space) */
    switch (st) {
    case TRIAL_COMPLETE:
    case TRIAL_PRUNED:
        g->state[i] = G_DONE;
        break;
    case TRIAL_FAIL:
        if (g->state[i] == G_DONE)
            break; /* the point has a result already */
        if (g->fails[i] < MAX_TRIES)
            g->fails[i]++;
        if (g->fails[i] < MAX_TRIES) {
            g->state[i] = G_FREE;
            if (i < g->cursor[g->fails[i]])
                g->cursor[g->fails[i]] = i;
        } else {
            g->state[i] = G_DONE;
        }
        break;
    case TRIAL_RUNNING:
        if (g->state[i] == G_FREE)
            g->state[i] = G_RUNNING;
        break;
    case TRIAL_WAITING:
        break;
    }
}

static void grid_destroy(sampler *sm)
{
    grid *g = sm->impl;
    if (g) {
        free(g->state);
        free(g->fails);
        free(g);
    }
}

const sampler_ops sampler_grid_ops = {"grid", grid_init, grid_ask, grid_tell, grid_destroy};
