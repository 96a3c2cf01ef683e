/*
 * sched_models.c — model bytes on their way from workers to rank 0 (see
 * sched_impl.h, schemas/messages/model.md).
 *
 * A result that announces model bytes puts its worker's slot in W_MODEL;
 * the bytes' receive is started when the loop's poll matches them and
 * finished here between other work, never waited for: a large message
 * moves only as its sender progresses, and a sender stopped halfway would
 * hold a blocking receive, and the whole study, forever. heartbeat() in
 * scheduler.c gives such a slot up after trial_timeout_s.
 */
#include <stdio.h>

#include "sched_impl.h"

/* Model bytes from rank src, all arrived: kept if they are the ones its slot
 * waits for (a worker given up as lost may still send some: dropped). */
static void on_model(sched *s, int src, const void *bytes, size_t len)
{
    wslot *w = &s->w[src];
    if (w->state == W_LOST) { /* given up in this send: its trial stays as recorded */
        if (!s->o->quiet)
            fprintf(stderr, "worker %d is back (trial %d's model was not kept)\n", src, w->number);
        w->state = W_IDLE;
        return;
    }
    if (w->state != W_MODEL)
        return;
    w->state = W_IDLE;
    int kept = 0;
    pt_err merr = {{0}};
    pt_status st = PT_OK;
    if (s->pbt) /* a member's checkpoint: the start of its next interval */
        sched_pbt_model(s, w->number, len == w->model_len ? bytes : NULL, len);
    if (len != w->model_len)
        st = pt_fail(&merr, PT_ERR_FORMAT, "%zu bytes arrived, the result announced %zu", len,
                     w->model_len);
    else
        st = models_offer(s->keep, w->trial_id, w->number, w->model_complete ? w->v : NULL, bytes,
                          len, &kept, &merr);
    if (st != PT_OK && !s->o->quiet)
        fprintf(stderr, "trial %d: model not kept: %s\n", w->number, merr.msg);
}

/* Model bytes whose receive has started: they are finished here, between
 * other work, never waited for (see proto_bytes_in). */
void sched_start_model(sched *s, int src, const proto_bytes_in *in)
{
    if (src < 1 || src > s->n_workers) {
        proto_bytes_in junk = *in;
        proto_bytes_release(&junk);
        return;
    }
    wslot *w = &s->w[src];
    if (w->in.buf) /* an earlier one that never ended: MPI keeps its buffer */
        proto_bytes_release(&w->in);
    w->in = *in;
}

void sched_finish_models(sched *s)
{
    for (int r = 1; r <= s->n_workers; r++) {
        wslot *w = &s->w[r];
        int done = w->in.buf ? proto_bytes_test(&w->in) : 0;
        if (done > 0) {
            on_model(s, r, w->in.buf, w->in.len);
        } else if (done < 0 && w->state == W_MODEL) {
            if (!s->o->quiet)
                fprintf(stderr, "trial %d: model not kept: MPI failed receiving it\n", w->number);
            w->state = W_IDLE;
            if (s->pbt)
                sched_pbt_lost(s, w->number);
        }
        if (done != 0)
            proto_bytes_release(&w->in);
    }
}

int sched_models_awaited(const sched *s)
{
    for (int r = 1; r <= s->n_workers; r++)
        if (s->w[r].state == W_MODEL)
            return 1;
    return 0;
}
