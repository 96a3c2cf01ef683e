/*
 * cmd_confirm.c — `prunetune confirm DB`: the ablation and multi-seed
 * confirmation of an existing study's best strategies (coordinator/confirm.h),
 * on workers as `prunetune run` (under mpirun, or spawned alone).
 *
 * The study file is not needed: the DB holds the study's space and
 * objectives (pt_studies.space_json) and every trial's full config, and the
 * base config is the reference trial's (pruning and regularization already
 * off). A study without a reference trial (made before it existed) takes its
 * best trial's config as the base of the baseline, so the baseline then
 * shares that trial's other searched keys (learning rate, epochs...); it is
 * said on stderr.
 *
 * The study's run lock is held throughout, so a confirmation never runs
 * beside a search of the same study (whose trials it ranks).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_mpi.h"
#include "confirm.h"
#include "pbt_lineage.h"
#include "query.h"
#include "runlock.h"
#include "scheduler.h"
#include "store.h"
#include "study.h"

static void confirm_usage(FILE *f)
{
    fprintf(f,
            "usage: prunetune confirm DB [--study NAME] [--top K] [--seeds S] [--workers N]\n"
            "                         [--processes] [...]\n"
            "       mpirun -np N prunetune confirm DB [...]\n\n"
            "Ablation and multi-seed confirmation of a study's winners: for the best K\n"
            "complete trials (by the first objective) it trains, for seeds 1..S, the\n"
            "strategy itself (hybrid), its pruning_only variant (regularization off), its\n"
            "regularization_only variant (pruning off) and once per seed the baseline\n"
            "(both off), and records every run in the study '<name>/confirm' of the same\n"
            "DB (user attributes pt_variant, pt_rank, pt_source_trial, pt_seed), which\n"
            "Optuna reads and `prunetune report` summarizes. Running it again skips the\n"
            "runs already complete. A study file's \"confirm\" key does the same at the end\n"
            "of `prunetune run`.\n\n"
            "options:\n"
            "  --study NAME         the study (default: the only / most recent one)\n"
            "  --top K              strategies to confirm (default 3)\n"
            "  --seeds S            seeds per variant (default 5)\n"
            "  --workers N          workers to start without mpirun (default: the number\n"
            "                       of cores), as threads sharing one copy of the data;\n"
            "                       ignored under mpirun\n"
            "  --processes          start them as processes instead (as `run --processes`)\n"
            "  --trial-timeout S    give up a run, and its worker, after S seconds without\n"
            "                       a message from it (default 600)\n"
            "  --quiet              no progress lines\n"
            "  -h, --help           this help\n\n"
            "exit status: 0 every run done, 1 the run failed (database, MPI, workers lost),\n"
            "2 bad database, study or usage, or the study is being run\n");
}

typedef struct {
    const char *db, *study;
    int top, seeds, workers;
    int processes; /* --processes: spawned worker processes, not threads */
    sched_opts o;
} confirm_args;

static int int_arg(const char *opt, const char *v, int lo, int hi, int *dst)
{
    char *end = NULL;
    long k = strtol(v, &end, 10);
    if (!*v || *end || k < lo || k > hi) {
        fprintf(stderr, "prunetune confirm: %s: expected an integer %d..%d (got '%s')\n", opt, lo,
                hi, v);
        return 0;
    }
    *dst = (int)k;
    return 1;
}

static int parse_args(confirm_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->top = 3;
    a->seeds = 5;
    sched_opts_default(&a->o);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(s, "--quiet")) {
            a->o.quiet = 1;
        } else if (!strcmp(s, "--processes")) {
            a->processes = 1;
        } else if (!strcmp(s, "--study") && more) {
            a->study = argv[++i];
        } else if (!strcmp(s, "--top") && more) {
            if (!int_arg("--top", argv[++i], 1, 100, &a->top))
                return 0;
        } else if (!strcmp(s, "--seeds") && more) {
            if (!int_arg("--seeds", argv[++i], 1, 1000, &a->seeds))
                return 0;
        } else if (!strcmp(s, "--workers") && more) {
            if (!int_arg("--workers", argv[++i], 1, 4096, &a->workers))
                return 0;
        } else if (!strcmp(s, "--trial-timeout") && more) {
            char *end = NULL;
            double t = strtod(argv[++i], &end);
            if (*end || !(t > 0)) {
                fprintf(stderr,
                        "prunetune confirm: --trial-timeout: expected seconds > 0 (got '%s')\n",
                        argv[i]);
                return 0;
            }
            a->o.trial_timeout_s = t;
        } else if (s[0] == '-') {
            fprintf(stderr,
                    "prunetune confirm: unknown option or missing value '%s' (see --help)\n", s);
            return 0;
        } else if (a->db) {
            fprintf(stderr, "prunetune confirm: one database expected, got '%s' and '%s'\n",
                    a->db, s);
            return 0;
        } else {
            a->db = s;
        }
    }
    if (!a->db)
        fprintf(stderr, "prunetune confirm: a study database is needed (see --help)\n");
    return a->db != NULL;
}

/* The canonical space (parameters by name) in an order the study parser
 * takes: each parameter after the one its "when" names. */
static cJSON *space_in_order(const cJSON *space)
{
    cJSON *out = cJSON_CreateObject();
    int n = cJSON_GetArraySize(space), added = 0;
    for (int pass = 0; out && added < n && pass <= n; pass++)
        for (const cJSON *p = space->child; p; p = p->next) {
            if (cJSON_GetObjectItemCaseSensitive(out, p->string))
                continue;
            const cJSON *when = cJSON_GetObjectItemCaseSensitive(p, "when");
            const char *dep = cJSON_IsObject(when) && when->child ? when->child->string : NULL;
            if (dep && !cJSON_GetObjectItemCaseSensitive(out, dep))
                continue;
            cJSON_AddItemToObject(out, p->string, cJSON_Duplicate(p, 1));
            added++;
        }
    return out;
}

/* The study config of study qs rebuilt from the DB (see the top comment).
 * One line on stderr and an exit code on failure, else -1. */
static int rebuild_study(const confirm_args *a, query_db *q, const query_study *qs,
                         study_config *sc)
{
    pt_err err = {{0}};
    store *ro = NULL;
    char *space = NULL, *config = NULL, *result = NULL, *text = NULL;
    int ref = -1, code = -1, base_number = -1;
    query_trials t;
    memset(&t, 0, sizeof t);
    pt_status st = store_open(&ro, a->db, 1, &err);
    if (st == PT_OK)
        st = store_study_space(ro, qs->id, &space, &err);
    if (st == PT_OK && !space)
        st = pt_fail(&err, PT_ERR_CONFIG,
                     "%s: study '%s' was not made by prunetune (no stored space): nothing to "
                     "rebuild its trials from",
                     a->db, qs->name);
    if (st == PT_OK)
        st = store_find_marked(ro, qs->id, "pt_role", "\"baseline\"", &ref, &err);
    if (st == PT_OK)
        st = query_load(q, qs, &t, &err);
    /* The base: the reference trial, else the best complete trial. */
    const query_trial *base = ref >= 0 && st == PT_OK ? query_find_number(&t, ref) : NULL;
    if (st == PT_OK && !base) {
        query_col col;
        st = query_col_find(&t, qs->obj_name[0], &col, &err);
        if (st == PT_OK) {
            int n = 0, *idx = malloc(sizeof *idx * (size_t)(t.n + 1));
            for (int i = 0; idx && i < t.n; i++)
                if (t.t[i].state == TRIAL_COMPLETE)
                    idx[n++] = i;
            if (idx && n > 0 && query_sort(&t, &col, idx, n) > 0)
                base = &t.t[idx[0]];
            free(idx);
        }
        if (st == PT_OK && !base)
            st = pt_fail(&err, PT_ERR_CONFIG,
                         "%s: study '%s' has no COMPLETE trial with %s to confirm", a->db,
                         qs->name, qs->obj_name[0]);
        if (st == PT_OK && !a->o.quiet)
            fprintf(stderr,
                    "prunetune confirm: study '%s' has no reference trial; the baseline is "
                    "trial %d's config with pruning and regularization off\n",
                    qs->name, base->number);
    }
    if (base)
        base_number = base->number;
    if (st == PT_OK)
        st = query_trial_texts(q, base->trial_id, &config, &result, &err);
    if (st == PT_OK && !config)
        st = pt_fail(&err, PT_ERR_CONFIG, "%s: trial %d has no stored config", a->db, base_number);
    /* A PBT member-interval's config continues a checkpoint for one
     * interval: the base is its lineage's replay from epoch 0 instead. */
    if (st == PT_OK && query_is_pbt(&t)) {
        char *replay = query_pbt_replay_of(&t, base, config);
        free(config);
        config = replay;
        if (!config)
            st = pt_fail(&err, PT_ERR_NOMEM, "out of memory");
    }
    cJSON *root = NULL, *stored = st == PT_OK ? cJSON_Parse(space) : NULL;
    cJSON *trial = config ? cJSON_Parse(config) : NULL;
    if (st == PT_OK) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(stored, "search_space");
        const cJSON *ob = cJSON_GetObjectItemCaseSensitive(stored, "objectives");
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "study", qs->name);
        cJSON_AddStringToObject(root, "storage", a->db);
        if (ob)
            cJSON_AddItemToObject(root, "objectives", cJSON_Duplicate(ob, 1));
        if (trial)
            cJSON_AddItemToObject(root, "trial", cJSON_Duplicate(trial, 1));
        if (cJSON_IsObject(sp))
            cJSON_AddItemToObject(root, "search_space", space_in_order(sp));
        text = cJSON_PrintUnformatted(root);
        char src[600];
        snprintf(src, sizeof src, "%s (study '%s' as stored)", a->db, qs->name);
        st = text ? study_parse(sc, text, src, &err)
                  : pt_fail(&err, PT_ERR_NOMEM, "out of memory");
    }
    if (st != PT_OK) {
        fprintf(stderr, "prunetune confirm: %s\n", err.msg);
        code = st == PT_ERR_NOMEM ? PT_EXIT_FAIL : PT_EXIT_USAGE; /* nothing was run */
    }
    cJSON_Delete(root);
    cJSON_Delete(stored);
    cJSON_Delete(trial);
    free(text);
    free(space);
    free(config);
    free(result);
    query_trials_free(&t);
    store_close(ro);
    return code;
}

static int coordinate(void *ctx, int size)
{
    const confirm_args *a = ctx;
    pt_err err = {{0}};
    query_db *q = NULL;
    query_study qs;
    study_config sc;
    memset(&sc, 0, sizeof sc);
    int lock = -1, code = -1;
    pt_status st = query_open(&q, a->db, &err);
    if (st == PT_OK)
        st = query_study_pick(q, a->study, &qs, &err);
    if (st == PT_OK && query_is_confirm_study(qs.name))
        st = pt_fail(&err, PT_ERR_CONFIG,
                     "study '%s' is a confirmation study; name the study it confirms (--study)",
                     qs.name);
    if (st == PT_OK)
        st = runlock_take(a->db, qs.name, &lock, &err);
    if (st != PT_OK) {
        fprintf(stderr, "prunetune confirm: %s\n", err.msg);
        code = st == PT_ERR_NOMEM ? PT_EXIT_FAIL : PT_EXIT_USAGE; /* nothing was run */
    } else {
        code = rebuild_study(a, q, &qs, &sc);
    }
    query_close(q);
    if (code >= 0) {
        runlock_release(lock);
        if (size > 1)
            sched_dismiss(proto_over_mpi(MPI_COMM_WORLD));
        return code;
    }
    cli_workers w;
    if (!cli_start_workers("confirm", size, a->workers, a->processes, a->o.quiet, &w)) {
        study_free(&sc);
        runlock_release(lock);
        return PT_EXIT_FAIL;
    }
    sched_summary sum;
    proto_comm comm = w.comm;
    int n_ranks = proto_size(comm);
    /* A pool: the workers get "exit" here whether or not runs were left. */
    int *pool = calloc((size_t)n_ranks, sizeof *pool);
    sched_opts o = a->o;
    o.pool = pool;
    st = pool ? confirm_run(comm, &sc, a->top, a->seeds, &o, &sum, &err)
              : pt_fail(&err, PT_ERR_NOMEM, "out of memory");
    if (st != PT_OK)
        fprintf(stderr, "prunetune confirm: %s\n", err.msg);
    int dead = 0, lost = sched_pool_dismiss(comm, pool, &dead);
    free(pool);
    study_free(&sc);
    runlock_release(lock);
    code = st == PT_OK                                  ? PT_EXIT_OK
               : st == PT_ERR_CONFIG || st == PT_ERR_STOPPED ? PT_EXIT_USAGE /* nothing run */
                                                             : PT_EXIT_FAIL;
    return cli_end_workers("confirm", &w, lost, dead, code, NULL);
}

int cmd_confirm(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        confirm_usage(stdout);
        return PT_EXIT_OK;
    }
    confirm_args a;
    if (!parse_args(&a, argc, argv))
        return PT_EXIT_USAGE;
    return cli_mpi_main(&argc, &argv, coordinate, &a, NULL, a.processes);
}
