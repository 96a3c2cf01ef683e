/*
 * sched_fail.c — when to give up a run whose trials keep failing (see
 * sched_impl.h): study key max_failures, FAIL trials in a row.
 *
 * Failures that come one after the other nearly always share a cause (a
 * path that does not exist, a config every point diverges with, a library
 * missing on the nodes), and the user needs that cause, not N copies of it.
 * So the streak's reasons are tallied, and reasons that differ only in their
 * numbers ("worker 3 sent nothing for 601 s", "... worker 2 ... 600 s",
 * "diverged at epoch 3") count as one: the most frequent is what the run
 * ends with. A bounded table (SCHED_FAIL_KINDS) is enough for that: a
 * streak's reasons are few in kind, and a kind seen after the table is full
 * is simply not tallied.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "sched_impl.h"

/* Whether a and b are the same text once every number in them is ignored. */
static int same_but_numbers(const char *a, const char *b)
{
    for (;;) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (isdigit((unsigned char)*a) || (*a == '.' && isdigit((unsigned char)a[1])))
                a++;
            while (isdigit((unsigned char)*b) || (*b == '.' && isdigit((unsigned char)b[1])))
                b++;
            continue;
        }
        if (*a != *b)
            return 0;
        if (!*a)
            return 1;
        a++, b++;
    }
}

void sched_fail_reset(sched *s)
{
    s->fail_streak = 0;
    s->n_fail_kinds = 0;
}

void sched_fail_note(sched *s, const char *why)
{
    if (!why)
        why = "no reason given";
    s->fail_streak++;
    int k = 0;
    while (k < s->n_fail_kinds && !same_but_numbers(s->fail_kind[k].text, why))
        k++;
    if (k == s->n_fail_kinds && k < SCHED_FAIL_KINDS) {
        snprintf(s->fail_kind[k].text, sizeof s->fail_kind[k].text, "%s", why);
        s->fail_kind[k].n = 0;
        s->n_fail_kinds++;
    }
    if (k < s->n_fail_kinds)
        s->fail_kind[k].n++;
    int limit = s->sc->max_failures;
    if (limit <= 0 || s->fail_streak < limit || s->fail_stop)
        return;
    s->fail_stop = 1;
    if (!s->o->quiet)
        fprintf(stderr, "%d trials in a row failed (max_failures %d): no new trial will start%s\n",
                s->fail_streak, limit, s->running > 0 ? "; the running ones finish first" : "");
}

pt_status sched_fail_error(const sched *s, pt_err *err)
{
    int best = 0;
    for (int k = 1; k < s->n_fail_kinds; k++)
        if (s->fail_kind[k].n > s->fail_kind[best].n)
            best = k;
    const char *why = s->n_fail_kinds ? s->fail_kind[best].text : "no reason given";
    int n = s->n_fail_kinds ? s->fail_kind[best].n : 0;
    char share[32] = "all";
    if (n != s->fail_streak)
        snprintf(share, sizeof share, "%d", n);
    return pt_fail(err, PT_ERR_IO,
                   "stopped: %d trials in a row failed (max_failures %d), %s of them with: %s;"
                   " fix that and run the study again (failed trials do not count toward"
                   " n_trials)",
                   s->fail_streak, s->sc->max_failures, share, why);
}
