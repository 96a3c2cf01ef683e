/*
 * hub.h — ranks that are threads of one process: the in-process transport.
 *
 * `prunetune run` on a laptop runs its workers as threads of its own
 * process: one copy of the data set serves them all (Fashion-MNIST is 55 MB
 * as bytes; a worker process each held its own) and no MPI daemon or
 * shared-memory segments are started. The messages stay the protocol's
 * (protocol.h): a hub is what carries them, as MPI carries them between
 * processes.
 *
 * A hub has `size` ranks, 0 the coordinator. Each rank has an inbox, a FIFO
 * of messages with their source and tag; a receive takes the first one that
 * matches (source or PROTO_ANY, tag or PROTO_ANY), so messages from one
 * sender are never reordered, as in MPI. A send copies nothing more: it
 * hands its malloc'ed buffer over, and never waits. A wait sleeps on the
 * inbox's condition variable: no polling, no core spent while idle.
 *
 * Thread safety: every call may come from any thread; one mutex guards the
 * inboxes (messages are a few per epoch, far from contention).
 * Memory: proto_hub_free frees the messages nobody took.
 */
#ifndef PROTO_HUB_H
#define PROTO_HUB_H

#include <stddef.h>

typedef struct proto_hub proto_hub;

/* A hub of size ranks; NULL when out of memory. */
proto_hub *proto_hub_new(int size);
void proto_hub_free(proto_hub *h);
int proto_hub_size(const proto_hub *h);

/* Puts buf[0..len) (malloc'ed; the hub's from now on, even on failure) in
 * dest's inbox as a tag message from src. 0, or -1 when dest is not a rank. */
int proto_hub_put(proto_hub *h, int src, int dest, int tag, void *buf, size_t len);

/* Takes the first message of rank's inbox from source with tag (-1: any),
 * waiting up to timeout_s (0: not at all; < 0: for ever). 1 with *buf (the
 * caller's, free), *len, *src and *tag_out set; 0 when none came. */
int proto_hub_take(proto_hub *h, int rank, int source, int tag, double timeout_s, void **buf,
                   size_t *len, int *src, int *tag_out);

#endif
