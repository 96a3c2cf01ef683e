/*
 * peer.c — the liveness of a peer process on this node (see peer.h).
 * Linux: /proc/<pid>/stat gives the state and the start time, /proc/sys/
 * kernel/random/boot_id and /proc/self/ns/pid the node.
 */
#include "peer.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* State and start time (fields 3 and 22) of /proc/<pid>/stat; 0 when the
 * file cannot be read (no such process, or no /proc). */
static int proc_stat(long pid, char *state, unsigned long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: fields
     * are counted after its last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %c", state) != 1)
        return 0;
    *start = 0;
    /* the space after ')' is the one before field 3 */
    for (int field = 2; *p && field < 22; p++)
        if (*p == ' ' && ++field == 22)
            sscanf(p + 1, "%llu", start);
    return 1;
}

void peer_self(peer_proc *p)
{
    memset(p, 0, sizeof *p);
    p->pid = (long)getpid();
    char state = 0;
    proc_stat(p->pid, &state, &p->start);
    char boot[64] = "", ns[48] = "";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(boot, sizeof boot, f))
            boot[0] = '\0';
        fclose(f);
        boot[strcspn(boot, "\n")] = '\0';
    }
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    ns[n > 0 ? n : 0] = '\0';
    if (boot[0] && ns[0])
        snprintf(p->node, sizeof p->node, "%s/%s", boot, ns);
}

void peer_to_json(const peer_proc *p, cJSON *obj)
{
    cJSON_AddNumberToObject(obj, "pid", (double)p->pid);
    cJSON_AddNumberToObject(obj, "start", (double)p->start);
    cJSON_AddStringToObject(obj, "node", p->node);
}

void peer_from_json(peer_proc *p, const cJSON *obj, const char *key)
{
    memset(p, 0, sizeof *p);
    if (key)
        obj = cJSON_GetObjectItemCaseSensitive(obj, key);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(obj, "pid");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(obj, "start");
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(obj, "node");
    if (!cJSON_IsNumber(pid) || !cJSON_IsNumber(start) || !cJSON_IsString(node) ||
        pid->valuedouble < 1 || strlen(node->valuestring) >= sizeof p->node)
        return;
    p->pid = (long)pid->valuedouble;
    p->start = (unsigned long long)start->valuedouble;
    snprintf(p->node, sizeof p->node, "%s", node->valuestring);
}

int peer_local(const peer_proc *self, const peer_proc *p)
{
    return p->pid > 0 && p->node[0] && !strcmp(self->node, p->node);
}

int peer_gone(const peer_proc *self, const peer_proc *p)
{
    if (!peer_local(self, p))
        return 0;
    char state = 0;
    unsigned long long start = 0;
    if (!proc_stat(p->pid, &state, &start))
        return kill((pid_t)p->pid, 0) != 0 && errno == ESRCH;
    /* Z: exited, not yet reaped by mpirun; X: being reaped. */
    return state == 'Z' || state == 'X' || (p->start && start && start != p->start);
}
