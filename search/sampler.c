/* sampler.c — the ask/tell front of sampler.h: picks a kind's ops and
 * forwards to it; the kinds live in sampler_<kind>.c. */
#include <stdlib.h>
#include <string.h>

#include "sampler_impl.h"

pt_status sampler_new(sampler **out, const study_config *s, pt_err *err)
{
    if (!out || !s)
        return pt_fail(err, PT_ERR_ARG, "sampler_new: NULL argument");
    *out = NULL;
    const sampler_ops *ops = s->sampler == SAMPLER_RANDOM ? &sampler_random_ops
                             : s->sampler == SAMPLER_GRID ? &sampler_grid_ops
                             : s->sampler == SAMPLER_TPE  ? &sampler_tpe_ops
                             /* PBT's first generation: random points, as Ray Tune
                              * samples its initial configs (coordinator/sched_pbt.c) */
                             : s->sampler == SAMPLER_PBT ? &sampler_random_ops
                                                          : NULL;
    if (!ops)
        return pt_fail(err, PT_ERR_CONFIG, "sampler: kind %d is not implemented", (int)s->sampler);
    sampler *sm = calloc(1, sizeof *sm);
    if (!sm)
        return pt_fail(err, PT_ERR_NOMEM, "sampler: out of memory");
    sm->ops = ops;
    sm->s = s;
    pt_status st = ops->init(sm, err);
    if (st != PT_OK) {
        free(sm);
        return st;
    }
    *out = sm;
    return PT_OK;
}

void sampler_free(sampler *sm)
{
    if (!sm)
        return;
    sm->ops->destroy(sm);
    free(sm);
}

pt_status sampler_ask(sampler *sm, int number, study_point *out, pt_err *err)
{
    if (!sm || !out || number < 0)
        return pt_fail(err, PT_ERR_ARG, "sampler_ask: NULL sampler/point or negative number");
    memset(out, 0, sizeof *out);
    return sm->ops->ask(sm, number, out, err);
}

void sampler_tell(sampler *sm, int number, const study_point *p, trial_state st,
                  const double *values)
{
    if (sm && p)
        sm->ops->tell(sm, number, p, st, values);
}

const char *trial_state_name(trial_state st)
{
    switch (st) {
    case TRIAL_RUNNING:
        return "RUNNING";
    case TRIAL_COMPLETE:
        return "COMPLETE";
    case TRIAL_PRUNED:
        return "PRUNED";
    case TRIAL_FAIL:
        return "FAIL";
    case TRIAL_WAITING:
        return "WAITING";
    }
    return "FAIL";
}
