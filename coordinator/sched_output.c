/*
 * sched_output.c — what a person watching a study reads (see sched_impl.h):
 * a line per finished trial and a status line on stderr, the final report
 * on stdout. Quiet runs keep only the final report.
 */
#define _GNU_SOURCE 1 /* RUSAGE_THREAD (Linux) */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "sched_impl.h"
#include "sysinfo.h"

/* "prune.schedule=gradual reg.l2=1.2e-05": the sampled params, for humans. */
static void params_summary(const study_config *sc, const study_point *p, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < sc->n_params && n + 1 < cap; i++) {
        if (!p->present[i])
            continue;
        const study_param *q = &sc->param[i];
        int k = (int)p->value[i];
        if (q->kind == PARAM_CAT && k >= 0 && k < q->n_choices) {
            /* choices are JSON texts: show "gradual" as gradual */
            const char *c = q->choices[k];
            int len = (int)strlen(c), quoted = len >= 2 && c[0] == '"';
            n += (size_t)snprintf(buf + n, cap - n, "%s%s=%.*s", n ? " " : "", q->name,
                                  quoted ? len - 2 : len, c + quoted);
        } else
            n +=
                (size_t)snprintf(buf + n, cap - n, "%s%s=%.4g", n ? " " : "", q->name, p->value[i]);
    }
}

const char *sched_job_label(const sched *s, int number)
{
    for (int j = 0; j < s->next_job; j++)
        if (s->job_number[j] == number)
            return s->job[j]->label;
    return NULL;
}

/* A confirmation run: "confirm 12/50 hybrid#1 seed 3  COMPLETE  val_acc ...". */
static void confirm_progress(const sched *s, const char *label, trial_state st,
                             const double *values, double sparsity, double elapsed,
                             const char *why)
{
    char pos[32];
    snprintf(pos, sizeof pos, "%d/%d", s->done_before + s->finished, s->sc->n_trials);
    if (st == TRIAL_FAIL)
        fprintf(stderr, "confirm %7s %-28s FAIL      %6.1fs  (%s)\n", pos, label, elapsed, why);
    else
        fprintf(stderr, "confirm %7s %-28s %-8s  %s %.4f  sparsity %.3f  %6.1fs\n", pos, label,
                trial_state_name(st), s->sc->obj[0].name, values[0], sparsity, elapsed);
}

void sched_progress(const sched *s, int number, const study_point *p, trial_state st,
                    const double *values, double sparsity, double elapsed, const char *why)
{
    if (s->o->quiet)
        return;
    const char *label = sched_job_label(s, number);
    if (label && s->o->jobs_only) {
        confirm_progress(s, label, st, values, sparsity, elapsed, why);
        return;
    }
    char ps[512];
    params_summary(s->sc, p, ps, sizeof ps);
    if (label) /* the reference: its params are the space's "off" values, often outside it */
        snprintf(ps, sizeof ps, "%s (pruning and regularization off)", label);
    if (st == TRIAL_FAIL) {
        fprintf(stderr, "trial %4d  FAIL      %6.1fs  %s  (%s)\n", number, elapsed, ps, why);
        return;
    }
    fprintf(stderr, "trial %4d  %-8s  %s %.4f  sparsity %.3f  %6.1fs  %s\n", number,
            trial_state_name(st), s->sc->obj[0].name, values[0], sparsity, elapsed, ps);
}

void sched_status_line(const sched *s)
{
    if (s->o->quiet)
        return;
    double el = pt_now() - s->t0, eta = -1;
    /* done: what n_trials counts (COMPLETE, PRUNED); the ETA extrapolates
     * from those alone, failures being no progress. */
    int ok = s->finished - s->failed;
    int total = s->sc->n_trials, done = s->done_before + ok;
    char best[160] = "none yet", of[32] = "", etas[32] = "?";
    if (s->o->jobs_only) /* a confirmation's runs are compared by variant, not ranked */
        snprintf(best, sizeof best, "-");
    else if (s->have_best)
        snprintf(best, sizeof best, "#%d %s %.4f", s->best_number, s->sc->obj[0].name,
                 s->best_value);
    if (total > 0)
        snprintf(of, sizeof of, "/%d", total);
    if (total > 0 && done >= total)
        eta = 0;
    else if (total > 0 && ok > 0)
        eta = el / ok * (total - done);
    if (s->sc->timeout_s > 0 && (eta < 0 || s->sc->timeout_s - el < eta))
        eta = s->sc->timeout_s > el ? s->sc->timeout_s - el : 0;
    if (eta >= 0)
        snprintf(etas, sizeof etas, "%.0fs", eta);
    fprintf(stderr, "[%6.0fs] %d%s done (%d failed), %d running, best %s, ETA %s\n", el, done, of,
            s->failed, s->running, best, etas);
}

double sched_cpu_s(void)
{
    struct rusage ru;
    /* The coordinator's thread only: on a laptop the workers are threads of
     * this process too. */
#ifdef RUSAGE_THREAD
    getrusage(RUSAGE_THREAD, &ru);
#else
    getrusage(RUSAGE_SELF, &ru);
#endif
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Below this a rate or a CPU share says more about the clock than about the
 * run: the getrusage() tick is 1-4 ms and a handful of trials in 0.02 s
 * would read as hundreds per second. */
#define SCHED_MIN_RATE_S 1.0

void sched_final_report(const sched *s, const study_config *sc)
{
    if (s->o->jobs_only) /* a confirmation has no "best": the report compares its variants */
        ;
    else if (s->have_best)
        printf("best: trial %d  %s %.6g%s\n", s->best_number, sc->obj[0].name, s->best_value,
               sc->n_constraints ? " (best feasible)" : "");
    else
        printf("best: no %strial completed\n", sc->n_constraints ? "feasible " : "");
    /* Both from the run's start (not the process's: MPI start-up and the
     * spawn of workers are not the coordinator's work). */
    double wall = pt_now() - s->t0, cpu = sched_cpu_s() - s->cpu0;
    printf("study '%s' in %s: %d trials finished in this run (%d failed) in %.2f s", sc->name,
           sc->storage, s->finished, s->failed, wall);
    if (wall >= SCHED_MIN_RATE_S)
        printf(" (%.1f trials/s), %d before; coordinator CPU %.1f%% of a core\n",
               s->finished / wall, s->done_before, 100 * cpu / wall);
    else
        printf(", %d before (too short a run for a rate or a CPU share)\n", s->done_before);
    fflush(stdout);
}
