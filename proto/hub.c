/*
 * hub.c — in-process ranks (see hub.h): one mutex, an inbox and a
 * condition variable per rank.
 */
#include "hub.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct hub_msg {
    struct hub_msg *next;
    int src, tag;
    size_t len;
    void *buf;
} hub_msg;

typedef struct {
    hub_msg *head, *tail;
    pthread_cond_t cv;
} hub_inbox;

struct proto_hub {
    int size;
    pthread_mutex_t mu;
    hub_inbox *box;
};

proto_hub *proto_hub_new(int size)
{
    if (size < 1)
        return NULL;
    proto_hub *h = calloc(1, sizeof *h);
    hub_inbox *box = h ? calloc((size_t)size, sizeof *box) : NULL;
    if (!box) {
        free(h);
        return NULL;
    }
    h->size = size;
    h->box = box;
    pthread_mutex_init(&h->mu, NULL);
    /* Timed waits measure a deadline on the monotonic clock: a changed wall
     * clock must not shorten or stretch a wait. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (int r = 0; r < size; r++)
        pthread_cond_init(&box[r].cv, &ca);
    pthread_condattr_destroy(&ca);
    return h;
}

void proto_hub_free(proto_hub *h)
{
    if (!h)
        return;
    for (int r = 0; r < h->size; r++) {
        for (hub_msg *m = h->box[r].head, *next; m; m = next) {
            next = m->next;
            free(m->buf);
            free(m);
        }
        pthread_cond_destroy(&h->box[r].cv);
    }
    pthread_mutex_destroy(&h->mu);
    free(h->box);
    free(h);
}

int proto_hub_size(const proto_hub *h)
{
    return h->size;
}

int proto_hub_put(proto_hub *h, int src, int dest, int tag, void *buf, size_t len)
{
    hub_msg *m = dest >= 0 && dest < h->size ? malloc(sizeof *m) : NULL;
    if (!m) {
        free(buf);
        return -1;
    }
    *m = (hub_msg){.src = src, .tag = tag, .len = len, .buf = buf};
    pthread_mutex_lock(&h->mu);
    hub_inbox *b = &h->box[dest];
    if (b->tail)
        b->tail->next = m;
    else
        b->head = m;
    b->tail = m;
    /* Broadcast: two receivers of one rank (a loop and a nested wait) may
     * wait for different messages. */
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

/* Unlinks and returns the first message of b that matches, or NULL. */
static hub_msg *unlink_match(hub_inbox *b, int source, int tag)
{
    for (hub_msg **p = &b->head, *prev = NULL; *p; prev = *p, p = &(*p)->next) {
        hub_msg *m = *p;
        if ((source >= 0 && m->src != source) || (tag >= 0 && m->tag != tag))
            continue;
        *p = m->next;
        if (b->tail == m)
            b->tail = prev;
        return m;
    }
    return NULL;
}

int proto_hub_take(proto_hub *h, int rank, int source, int tag, double timeout_s, void **buf,
                   size_t *len, int *src, int *tag_out)
{
    if (rank < 0 || rank >= h->size)
        return 0;
    struct timespec until;
    if (timeout_s > 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        double s = (double)until.tv_sec + until.tv_nsec * 1e-9 + timeout_s;
        until.tv_sec = (time_t)s;
        until.tv_nsec = (long)((s - (double)until.tv_sec) * 1e9);
    }
    hub_inbox *b = &h->box[rank];
    pthread_mutex_lock(&h->mu);
    hub_msg *m;
    while (!(m = unlink_match(b, source, tag)) && timeout_s != 0) {
        if (timeout_s < 0)
            pthread_cond_wait(&b->cv, &h->mu);
        else if (pthread_cond_timedwait(&b->cv, &h->mu, &until) == ETIMEDOUT) {
            m = unlink_match(b, source, tag);
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    if (!m)
        return 0;
    *buf = m->buf;
    *len = m->len;
    *src = m->src;
    *tag_out = m->tag;
    free(m);
    return 1;
}
