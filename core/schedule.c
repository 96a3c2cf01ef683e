/* schedule.c — per-epoch hyper-parameters (schedule.h). */
#include "schedule.h"

double pt_schedule_at(const pt_hp_schedule *s, int e, double dflt)
{
    double v = dflt;
    for (int i = 0; i < s->n && s->epoch[i] <= e; i++)
        v = s->value[i];
    return v;
}

void pt_schedule_apply(pt_config *live, const pt_config *base, int e)
{
    const pt_schedule_config *s = &base->schedule;
    live->reg.l2 = pt_schedule_at(&s->l2, e, base->reg.l2);
    live->reg.l1 = pt_schedule_at(&s->l1, e, base->reg.l1);
    live->train.lr = pt_schedule_at(&s->lr, e, base->train.lr);
    live->prune.sparsity = pt_schedule_at(&s->sparsity, e, base->prune.sparsity);
}
