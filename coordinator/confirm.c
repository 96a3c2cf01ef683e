/*
 * confirm.c — the reference trial and the confirmation runs (see confirm.h).
 *
 * Everything a run needs is decided here, before the scheduler starts: the
 * variants' configs (confirm_variant_make, the one place that says what
 * "pruning off" and "regularization off" mean), their params, their marks,
 * and which runs are already done. The scheduler then runs the list like
 * any trials (sched_opts.jobs), so recording, heartbeats, lost workers and
 * progress are the search's own.
 *
 * Variants are built from the strategy trial's stored config, not from its
 * params: the stored config is exactly what was trained (base keys, sampled
 * values, elements of per-layer lists), and the params are then read back
 * from the variant's config, so a stored param always says what the run
 * used.
 */
#include "confirm.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsontext.h"
#include "pbt_lineage.h"
#include "query.h"
#include "store.h"
#include "train.h"

const char *confirm_variant_name(confirm_variant v)
{
    static const char *const names[] = {"hybrid", "pruning_only", "regularization_only",
                                        "baseline"};
    return (unsigned)v < 4 ? names[v] : "?";
}

/* The regularizers, all off; l2_layers would override l2. */
#define REG_OFF                                                                                    \
    "\"reg\":{\"l1\":0,\"l2\":0,\"l2_layers\":[],\"dropout\":0,\"dropout_input\":0,"               \
    "\"max_norm\":0}"
#define PRUNE_OFF "\"prune\":{\"schedule\":\"none\"}"

pt_status confirm_variant_make(const study_config *sc, confirm_variant v, const pt_config *src,
                               int set_seed, uint64_t seed, pt_config *cfg, study_point *p,
                               pt_err *err)
{
    int prune_off = v == CONFIRM_REG_ONLY || v == CONFIRM_BASELINE;
    int reg_off = v == CONFIRM_PRUNING_ONLY || v == CONFIRM_BASELINE;
    if ((unsigned)v > CONFIRM_BASELINE)
        return pt_fail(err, PT_ERR_ARG, "confirm: unknown variant %d", (int)v);
    char json[512];
    snprintf(json, sizeof json, "{%s%s%s%s", prune_off ? PRUNE_OFF : "",
             prune_off && reg_off ? "," : "", reg_off ? REG_OFF : "",
             set_seed && (prune_off || reg_off) ? "," : "");
    if (set_seed)
        snprintf(json + strlen(json), sizeof json - strlen(json), "\"seed\":%llu",
                 (unsigned long long)seed);
    snprintf(json + strlen(json), sizeof json - strlen(json), "}");
    pt_config c = *src;
    /* A per-epoch list (a PBT winner's replay, pbt_lineage.h) would switch
     * back on what the variant turns off. */
    if (reg_off)
        c.schedule.l2.n = c.schedule.l1.n = 0;
    if (prune_off)
        c.schedule.sparsity.n = 0;
    pt_err inner = {{0}};
    if (pt_config_merge(&c, json, confirm_variant_name(v), &inner) != PT_OK)
        return pt_fail(err, PT_ERR_CONFIG, "confirm: the %s variant is not a valid config: %s",
                       confirm_variant_name(v), inner.msg);
    /* A dropout layer of a CNN is a regularizer too. */
    for (int i = 0; reg_off && i < c.net.n_layers; i++)
        if (c.net.layers[i].type == PT_NL_DROPOUT)
            c.net.layers[i].rate = 0;
    /* From a pre-trained network the baseline is that network as it is:
     * evaluated, not trained further (train.epochs 0 is allowed with
     * net.init alone). */
    if (v == CONFIRM_BASELINE && c.net.init[0])
        c.train.epochs = 0;
    /* Its regularization-only variant fine-tunes as long as the strategy
     * does in all (its train.epochs may be 0: only the pruning phases train). */
    if (v == CONFIRM_REG_ONLY && c.net.init[0])
        c.train.epochs = pt_train_total_epochs(src);
    *cfg = c;
    confirm_point_of(sc, cfg, p);
    return PT_OK;
}

/* cfg's value of parameter q (root: cfg as JSON) in q's internal repr. */
static int value_of(cJSON *root, const study_param *q, double *v)
{
    char base[64];
    snprintf(base, sizeof base, "%s", q->name);
    int k = -1;
    char *br = strchr(base, '[');
    if (br && base[strlen(base) - 1] == ']') { /* "key[k]": element k of a list key */
        k = atoi(br + 1);
        *br = 0;
    }
    const char *name;
    cJSON *sec = pt_json_section(root, base, &name);
    const cJSON *x = sec ? cJSON_GetObjectItemCaseSensitive(sec, name) : NULL;
    if (k >= 0 && cJSON_IsArray(x))
        x = cJSON_GetArrayItem(x, k);
    if (!x)
        return 0;
    if (q->kind != PARAM_CAT) {
        if (!cJSON_IsNumber(x))
            return 0;
        *v = x->valuedouble;
        return 1;
    }
    for (int c = 0; c < q->n_choices; c++) {
        cJSON *choice = cJSON_Parse(q->choices[c]);
        int same = choice && cJSON_Compare(choice, x, 1);
        cJSON_Delete(choice);
        if (same) {
            *v = c;
            return 1;
        }
    }
    return 0;
}

void confirm_point_of(const study_config *sc, const pt_config *cfg, study_point *p)
{
    memset(p, 0, sizeof *p);
    char *json = pt_config_to_json(cfg);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    free(json);
    for (int i = 0; root && i < sc->n_params; i++) {
        const study_param *q = &sc->param[i];
        p->present[i] = study_param_active(sc, p, i) && value_of(root, q, &p->value[i]);
        if (!p->present[i])
            p->value[i] = 0;
    }
    cJSON_Delete(root);
}

void confirm_point_in_space(const study_config *sc, const study_point *p, study_point *out)
{
    *out = *p;
    for (int i = 0; i < sc->n_params; i++)
        if (out->present[i] && !study_param_contains(&sc->param[i], out->value[i])) {
            out->present[i] = 0;
            out->value[i] = 0;
        }
}

void sched_job_free(sched_job *job)
{
    if (!job)
        return;
    free(job->config_json);
    free(job->user_attrs);
    free(job->system_attrs);
    memset(job, 0, sizeof *job);
}

/* p's params as Optuna's fixed_params: {"name": external value}. */
static char *fixed_params(const study_config *sc, const study_point *p)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < sc->n_params; i++) {
        if (!p->present[i])
            continue;
        const study_param *q = &sc->param[i];
        cJSON *v = q->kind == PARAM_CAT ? cJSON_Parse(q->choices[(int)p->value[i]])
                                        : cJSON_CreateNumber(p->value[i]);
        if (v)
            cJSON_AddItemToObject(o, q->name, v);
    }
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

/* A job running cfg as point p with the given marks. */
static pt_status make_job(sched_job *job, const pt_config *cfg, const study_point *p,
                          const char *user_attrs, const char *system_attrs, const char *label,
                          pt_err *err)
{
    memset(job, 0, sizeof *job);
    job->point = *p;
    snprintf(job->label, sizeof job->label, "%s", label);
    job->config_json = pt_config_to_json(cfg);
    job->user_attrs = user_attrs ? strdup(user_attrs) : NULL;
    job->system_attrs = system_attrs ? strdup(system_attrs) : NULL;
    if (!job->config_json || (user_attrs && !job->user_attrs) ||
        (system_attrs && !job->system_attrs)) {
        sched_job_free(job);
        return pt_fail(err, PT_ERR_NOMEM, "confirm: out of memory");
    }
    return PT_OK;
}

pt_status confirm_reference_job(const study_config *sc, sched_job *job, pt_err *err)
{
    pt_config cfg;
    study_point p;
    memset(job, 0, sizeof *job);
    pt_status st = confirm_variant_make(sc, CONFIRM_BASELINE, &sc->trial, 0, 0, &cfg, &p, err);
    if (st != PT_OK)
        return st;
    char *fixed = fixed_params(sc, &p);
    if (!fixed)
        return pt_fail(err, PT_ERR_NOMEM, "confirm: out of memory");
    size_t n = strlen(fixed) + 32;
    char *sys = malloc(n);
    if (sys)
        snprintf(sys, n, "{\"fixed_params\":%s}", fixed);
    free(fixed);
    st = sys ? make_job(job, &cfg, &p, "{\"pt_role\":\"baseline\"}", sys, "reference", err)
             : pt_fail(err, PT_ERR_NOMEM, "confirm: out of memory");
    free(sys);
    return st;
}

/* ---- the confirmation phase ---------------------------------------------- */

typedef struct {
    int variant, rank, source, seed;
} run_key;

typedef struct {
    run_key *k;
    int n, cap;
} done_set;

static void note_done(void *ctx, const char *variant, int rank, int source, int seed)
{
    done_set *d = ctx;
    int v = 0;
    while (v < 4 && strcmp(variant, confirm_variant_name((confirm_variant)v)))
        v++;
    if (v == 4)
        return;
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 64;
        run_key *k = realloc(d->k, sizeof *k * (size_t)cap);
        if (!k)
            return; /* the run is then done again: costly, not wrong */
        d->k = k;
        d->cap = cap;
    }
    d->k[d->n++] = (run_key){v, rank, source, seed};
}

static int is_done(const done_set *d, run_key k)
{
    for (int i = 0; i < d->n; i++)
        if (!memcmp(&d->k[i], &k, sizeof k))
            return 1;
    return 0;
}

/* What the phase reads from the DB before it runs anything. */
typedef struct {
    int ref_number;             /* the reference trial, -1 = none */
    int k;                      /* strategies found (<= top) */
    int number[100];            /* their trial numbers, best first */
    double value[100];          /* their first objective */
    pt_config *cfg;             /* [k]: their stored configs */
    done_set done;              /* runs already COMPLETE in <name>/confirm */
} plan;

static void plan_free(plan *pl)
{
    free(pl->cfg);
    free(pl->done.k);
}

/* The best `top` COMPLETE strategies of sc's study, their configs, the
 * reference trial and the runs done. */
static pt_status read_plan(const study_config *sc, const char *cname, int top, plan *pl,
                           pt_err *err)
{
    memset(pl, 0, sizeof *pl);
    pl->ref_number = -1;
    if (top > (int)(sizeof pl->number / sizeof pl->number[0]))
        top = (int)(sizeof pl->number / sizeof pl->number[0]);
    query_db *q = NULL;
    store *ro = NULL;
    query_study qs, cs;
    query_trials t;
    memset(&t, 0, sizeof t);
    int *idx = NULL;
    pt_status st = query_open(&q, sc->storage, err);
    if (st == PT_OK)
        st = query_study_pick(q, sc->name, &qs, err);
    if (st == PT_OK)
        st = store_open(&ro, sc->storage, 1, err);
    if (st == PT_OK)
        st = store_find_marked(ro, qs.id, "pt_role", "\"baseline\"", &pl->ref_number, err);
    pt_err nerr;
    if (st == PT_OK && query_study_pick(q, cname, &cs, &nerr) == PT_OK)
        st = store_each_confirm_run(ro, cs.id, note_done, &pl->done, err);
    if (st == PT_OK)
        st = query_load(q, &qs, &t, err);
    query_col col;
    if (st == PT_OK)
        st = query_col_find(&t, sc->obj[0].name, &col, err);
    if (st == PT_OK && !(idx = malloc(sizeof *idx * (size_t)(t.n + 1))))
        st = pt_fail(err, PT_ERR_NOMEM, "confirm: out of memory");
    /* A PBT study's candidates are the members of its last generation, and
     * each is confirmed as its lineage's replay: the schedule PBT found,
     * trained from epoch 0 in one run (a member-interval's own config
     * continues a checkpoint for one interval). */
    int pbt = st == PT_OK && query_is_pbt(&t), a_gen = query_attr_index(&t, "pbt_generation");
    double last_gen = -INFINITY;
    for (int i = 0; pbt && i < t.n; i++)
        if (t.t[i].state == TRIAL_COMPLETE)
            last_gen = fmax(last_gen, query_attr_of(&t.t[i], a_gen));
    int n = 0;
    for (int i = 0; st == PT_OK && i < t.n; i++)
        if (t.t[i].state == TRIAL_COMPLETE && t.t[i].number != pl->ref_number &&
            (!pbt || query_attr_of(&t.t[i], a_gen) == last_gen))
            idx[n++] = i;
    /* The query module's ranking, feasible trials only: what `prunetune top`
     * shows is what is confirmed. */
    int infeasible = 0;
    int have = st == PT_OK ? query_rank(&t, &col, 1, idx, &n, &infeasible) : 0;
    pl->k = have < top ? have : top;
    if (st == PT_OK && pl->k == 0)
        st = pt_fail(err, PT_ERR_STOPPED,
                     "%s: study '%s' has no %sCOMPLETE trial with %s to confirm (the reference "
                     "trial aside%s)",
                     sc->storage, sc->name, infeasible ? "feasible " : "", sc->obj[0].name,
                     infeasible ? "; the others violate the study's constraints" : "");
    if (st == PT_OK && !(pl->cfg = calloc((size_t)pl->k, sizeof *pl->cfg)))
        st = pt_fail(err, PT_ERR_NOMEM, "confirm: out of memory");
    for (int r = 0; st == PT_OK && r < pl->k; r++) {
        const query_trial *tr = &t.t[idx[r]];
        pl->number[r] = tr->number;
        pl->value[r] = query_col_get(&t, tr, &col);
        char *config = NULL, *result = NULL, src[64];
        st = query_trial_texts(q, tr->trial_id, &config, &result, err);
        snprintf(src, sizeof src, "trial %d's stored config", tr->number);
        if (st == PT_OK && !config)
            st = pt_fail(err, PT_ERR_CONFIG, "%s: trial %d has no stored config to re-run",
                         sc->storage, tr->number);
        if (st == PT_OK && pbt) {
            char *replay = query_pbt_replay_of(&t, tr, config);
            free(config);
            config = replay;
            snprintf(src, sizeof src, "trial %d's lineage replay", tr->number);
            if (!config)
                st = pt_fail(err, PT_ERR_NOMEM, "confirm: out of memory");
        }
        if (st == PT_OK)
            st = pt_config_parse(&pl->cfg[r], config, src, err);
        free(config);
        free(result);
    }
    free(idx);
    query_trials_free(&t);
    store_close(ro);
    query_close(q);
    if (st != PT_OK)
        plan_free(pl);
    return st;
}

/* Adds the run (v, rank, seed) of cfg to jobs unless it is done. */
static pt_status add_run(const study_config *sc, const plan *pl, confirm_variant v, int rank,
                         int source, int seed, const pt_config *src, sched_job *jobs, int *n,
                         pt_err *err)
{
    if (is_done(&pl->done, (run_key){(int)v, rank, source, seed}))
        return PT_OK;
    pt_config cfg;
    study_point p;
    pt_status st = confirm_variant_make(sc, v, src, 1, (uint64_t)seed, &cfg, &p, err);
    if (st != PT_OK)
        return st;
    char attrs[256], label[64];
    snprintf(attrs, sizeof attrs,
             "{\"pt_variant\":\"%s\",\"pt_rank\":%d,\"pt_source_trial\":%d,\"pt_seed\":%d}",
             confirm_variant_name(v), rank, source, seed);
    if (v == CONFIRM_BASELINE)
        snprintf(label, sizeof label, "baseline seed %d", seed);
    else
        snprintf(label, sizeof label, "%s#%d seed %d", confirm_variant_name(v), rank, seed);
    st = make_job(&jobs[*n], &cfg, &p, attrs, NULL, label, err);
    if (st == PT_OK)
        (*n)++;
    return st;
}

pt_status confirm_run(proto_comm comm, const study_config *sc, int top, int seeds,
                      const sched_opts *o, sched_summary *sum, pt_err *err)
{
    memset(sum, 0, sizeof *sum);
    char cname[STUDY_NAME_MAX];
    if (snprintf(cname, sizeof cname, "%s/confirm", sc->name) >= (int)sizeof cname)
        return pt_fail(err, PT_ERR_CONFIG,
                       "study name '%s' is too long for its confirmation study '<name>/confirm' "
                       "(%d bytes at most)",
                       sc->name, STUDY_NAME_MAX - 1);
    if (top < 1 || seeds < 1)
        return PT_OK;
    plan pl;
    pt_status st = read_plan(sc, cname, top, &pl, err);
    if (st != PT_OK)
        return st;
    int total = (3 * pl.k + 1) * seeds, n = 0;
    sched_job *jobs = calloc((size_t)total, sizeof *jobs);
    if (!jobs)
        st = pt_fail(err, PT_ERR_NOMEM, "confirm: out of memory");
    /* Seed by seed: a run stopped halfway has whole paired sets. */
    for (int seed = 1; st == PT_OK && seed <= seeds; seed++) {
        st = add_run(sc, &pl, CONFIRM_BASELINE, 0, pl.ref_number, seed, &sc->trial, jobs, &n, err);
        for (int r = 0; st == PT_OK && r < pl.k; r++)
            for (int v = CONFIRM_HYBRID; st == PT_OK && v <= CONFIRM_REG_ONLY; v++)
                st = add_run(sc, &pl, (confirm_variant)v, r + 1, pl.number[r], seed, &pl.cfg[r],
                             jobs, &n, err);
    }
    if (st == PT_OK && !o->quiet) {
        fprintf(stderr, "confirming study '%s' in '%s': top %d by %s:", sc->name, cname, pl.k,
                sc->obj[0].name);
        for (int r = 0; r < pl.k; r++)
            fprintf(stderr, " #%d trial %d (%.4f)", r + 1, pl.number[r], pl.value[r]);
        if (pl.ref_number >= 0)
            fprintf(stderr, "; baseline: reference trial %d", pl.ref_number);
        else
            fprintf(stderr, "; baseline: no reference trial, built from the base config");
        fprintf(stderr, "; %d seeds: %d runs, %d done before\n", seeds, total, total - n);
    }
    study_config *csc = st == PT_OK ? malloc(sizeof *csc) : NULL;
    if (st == PT_OK && !csc)
        st = pt_fail(err, PT_ERR_NOMEM, "confirm: out of memory");
    if (st == PT_OK && n > 0) {
        /* The same space and objectives; runs are fixed: no sampling, no
         * early stopping (a stopped run would not be a paired sample), no
         * kept models, no wall-clock budget. */
        *csc = *sc;
        snprintf(csc->name, sizeof csc->name, "%s", cname);
        csc->sampler = SAMPLER_RANDOM;
        csc->pruner = PRUNER_NONE;
        csc->keep_models = 0;
        csc->timeout_s = 0;
        csc->n_trials = total;
        csc->confirm_top = 0;
        sched_opts co = *o;
        co.jobs = jobs;
        co.n_jobs = n;
        co.jobs_only = 1;
        co.force = 1; /* the linked study follows the main study's space */
        st = sched_run(comm, csc, &co, sum, err);
    } else if (st == PT_OK && !o->quiet) {
        fprintf(stderr, "confirm: all %d runs of '%s' are done\n", total, cname);
    }
    free(csc);
    for (int i = 0; i < n; i++)
        sched_job_free(&jobs[i]);
    free(jobs);
    plan_free(&pl);
    return st;
}
