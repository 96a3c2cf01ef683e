/*
 * peer.h — is the process at the other end of a message still there?
 *
 * Open MPI 4.1 (without ULFM) reports nothing when a rank dies: sends and
 * probes to a SIGKILLed rank return MPI_SUCCESS forever (measured with
 * MPI_ERRORS_RETURN over shared memory and over TCP), so MPI errors cannot
 * tell the coordinator that a worker is gone, nor a worker that the
 * coordinator is. What can: a process on the same node is looked up by its
 * pid. Each side sends its identity (pid, node, start time) in its first
 * messages (ready, trial); a peer on this node whose pid no longer exists,
 * is a zombie, or has another start time (the pid was reused) is gone. A
 * peer on another node cannot be looked up: there the trial timeout
 * (trial_timeout_s) is what tells.
 *
 * "Node" is the kernel's boot id and the pid namespace (Linux), not the
 * host name: containers on one host may share a host name but not their
 * pids, and two nodes may both be called "localhost". Where that cannot be
 * read (not Linux) the node is empty and no peer is ever judged gone.
 */
#ifndef PROTO_PEER_H
#define PROTO_PEER_H

#include <cjson/cJSON.h>

typedef struct {
    long pid;                /* 0: unknown */
    unsigned long long start; /* start time in clock ticks after boot (0: unknown) */
    char node[128];          /* "" : unknown (boot id / pid namespace) */
} peer_proc;

/* This process. */
void peer_self(peer_proc *p);

/* Adds "pid", "start" and "node" to obj (a ready or trial message). */
void peer_to_json(const peer_proc *p, cJSON *obj);

/* Reads what peer_to_json wrote from obj (or the object under key when key
 * is not NULL); an absent or partial identity gives pid 0 (unknown). */
void peer_from_json(peer_proc *p, const cJSON *obj, const char *key);

/* Whether p runs on the node of self (peer_self's answer, kept by the
 * caller: same kernel, same pid namespace). */
int peer_local(const peer_proc *self, const peer_proc *p);

/* 1 when p is a process of self's node that has ended (or a zombie, or its
 * pid now belongs to a newer process); 0 when it runs or cannot be looked
 * up. Reads one small /proc file. */
int peer_gone(const peer_proc *self, const peer_proc *p);

#endif
