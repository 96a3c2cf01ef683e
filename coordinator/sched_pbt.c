/*
 * sched_pbt.c — a PBT study's run on rank 0 (sched_impl.h, search/pbt.h for
 * the decisions, docs/ARCHITECTURE.md for why it looks like this).
 *
 * A population of P members trains in generations of `interval` epochs,
 * G = ceil(E / interval) of them for the trial config's E epochs. Each
 * member-interval is one trial, so Optuna and every query command read a PBT
 * study as they read any other:
 *   params           the parameters in force during that interval
 *   value            the first objective after it; intermediate values at
 *                    the absolute epochs it trained (g*interval + 1, ...)
 *   user attributes  pbt_member, pbt_generation, pbt_start_epoch,
 *                    pbt_parent (the trial number whose checkpoint it
 *                    started from, null in generation 0) and
 *                    pbt_exploited_from (the member it copied, only when it
 *                    exploited one)
 *   config           the trial config with train.first_epoch / stop_epoch /
 *                    keep_optim (core/train.h) and net.init naming the
 *                    checkpoint file beside the DB it started from
 * n_trials is therefore P * G (cli/cmd_run.c sets it).
 *
 * Members take turns on the workers: a generation's P trials go to whichever
 * workers are free, in member order; the next generation starts when every
 * member's trial is recorded and its checkpoint (the model bytes the worker
 * returns after a result: weights, mask, scaler, optimizer state) has
 * arrived. Then
 * pbt_step ranks the members and the bottom quantile exploits the top one:
 * the next trial of such a member starts from the parent's checkpoint with
 * explored parameters. The checkpoint goes to the worker over MPI (the
 * "checkpoint" message after the trial message), so no shared file system is
 * needed; rank 0 keeps it in the files beside the DB (store/pbt_files.h),
 * which it writes the moment they arrive and reads back to send.
 *
 * What is carried, exactly (float32 in the .npz): weights, mask, the
 * optimizer state (momentum or Adam's moments and step count:
 * train.keep_optim, core/model.h) and the position in the schedule (epoch,
 * hence learning rate, batch order, dropout draws, gradual pruning's
 * progress: train.first_epoch). An exploiting member thus continues its
 * parent's run as the parent would have, with explored parameters; and a
 * lineage is one run, which `prunetune strategy --config` replays bit for
 * bit from epoch 0 (with train.sparse "on" or "off").
 * Members all start from the trial's seed (same initial weights, different
 * sampled parameters): a lineage is then one continuous run.
 *
 * Failures: a member whose trial FAILs (diverged, lost worker) or whose
 * checkpoint never arrives has no state to continue: at the boundary it
 * ranks last and, if the bottom quantile does not already take it, is
 * replaced by a copy of the best member (its checkpoint and parameters,
 * not explored). A generation in which every member failed ends the run.
 *
 * Resume: state.json (the generation to run and each member's plan) is
 * written at each boundary; g<G>_m<M>.{npz,json} as each member-interval
 * ends. A killed run resumes at the last complete generation, keeping the
 * member-intervals of the interrupted one that were recorded with their
 * checkpoint, so no (member, generation) is COMPLETE twice. One recorded
 * COMPLETE whose checkpoint had not reached the disk (g<G>_m<M>.start names
 * its trial) is not run again either: that member counts as failed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbt.h"
#include "pbt_files.h"
#include "result.h"
#include "sched_impl.h"

enum { M_WAIT = 0, M_RUNNING, M_MODEL, M_DONE, M_FAILED };

typedef struct {
    int state;
    study_point point; /* the parameters of this generation's interval */
    int parent;        /* member whose checkpoint it starts from, -1 = none */
    int parent_trial;  /* that checkpoint's trial number, -1 = none */
    int exploited;     /* member it exploited at the last boundary, -1 = none */
    int number;        /* this generation's trial, -1 = none yet */
    double value, violation, sparsity;
} member;

struct sched_pbt {
    int P, G, I, E, gen;
    member *m;
    char dir[PT_PATH_MAX];
};

static void file_name(char *buf, size_t cap, int gen, int m, const char *ext)
{
    snprintf(buf, cap, "g%d_m%d.%s", gen, m, ext);
}

static void write_record(struct sched_pbt *p, int i);

/* state.json: the generation to run and each member's plan for it. */
static pt_status write_state(const struct sched_pbt *p, pt_err *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "generation", p->gen);
    cJSON_AddNumberToObject(o, "population", p->P);
    cJSON *ms = cJSON_AddArrayToObject(o, "members");
    for (int i = 0; i < p->P; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "parent", p->m[i].parent);
        cJSON_AddNumberToObject(x, "parent_trial", p->m[i].parent_trial);
        cJSON_AddNumberToObject(x, "exploited", p->m[i].exploited);
        cJSON *pr = cJSON_AddArrayToObject(x, "present");
        cJSON *vl = cJSON_AddArrayToObject(x, "value");
        for (int k = 0; k < STUDY_MAX_PARAMS; k++) {
            cJSON_AddItemToArray(pr, cJSON_CreateNumber(p->m[i].point.present[k]));
            /* %.17g through cJSON keeps every double exactly */
            cJSON_AddItemToArray(vl, cJSON_CreateNumber(p->m[i].point.value[k]));
        }
        cJSON_AddItemToArray(ms, x);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return pt_fail(err, PT_ERR_NOMEM, "pbt: out of memory writing the state");
    pt_status st = pbt_files_write(p->dir, "state.json", text, strlen(text), err);
    free(text);
    return st;
}

/* Reads state.json back; *found 0 when there is none (a fresh study). */
static pt_status read_state(struct sched_pbt *p, int *found, pt_err *err)
{
    unsigned char *text = NULL;
    size_t len = 0;
    int missing = 0;
    pt_err rerr = {{0}};
    *found = 0;
    if (pbt_files_read(p->dir, "state.json", &text, &len, &missing, &rerr) != PT_OK)
        return missing ? PT_OK : pt_fail(err, PT_ERR_IO, "%s", rerr.msg);
    cJSON *o = cJSON_Parse((const char *)text);
    free(text);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "members");
    pt_status st = PT_OK;
    if (!cJSON_IsArray(ms) || cJSON_GetArraySize(ms) != p->P ||
        (int)proto_num(o, "population", -1) != p->P)
        st = pt_fail(err, PT_ERR_CONFIG,
                     "%s/state.json: not the state of a population of %d (pbt.population "
                     "changed? start a new study)",
                     p->dir, p->P);
    for (int i = 0; st == PT_OK && i < p->P; i++) {
        const cJSON *x = cJSON_GetArrayItem(ms, i);
        member *m = &p->m[i];
        m->parent = (int)proto_num(x, "parent", -1);
        m->parent_trial = (int)proto_num(x, "parent_trial", -1);
        m->exploited = (int)proto_num(x, "exploited", -1);
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(x, "present");
        const cJSON *vl = cJSON_GetObjectItemCaseSensitive(x, "value");
        for (int k = 0; k < STUDY_MAX_PARAMS; k++) {
            const cJSON *a = cJSON_GetArrayItem(pr, k), *b = cJSON_GetArrayItem(vl, k);
            m->point.present[k] = cJSON_IsNumber(a) ? a->valueint : 0;
            m->point.value[k] = cJSON_IsNumber(b) ? b->valuedouble : 0;
        }
    }
    if (st == PT_OK) {
        p->gen = (int)proto_num(o, "generation", 0);
        *found = 1;
    }
    cJSON_Delete(o);
    return st;
}

/* Resume: the state of the trial a start file names (store_each_trial). */
typedef struct {
    int number;
    trial_state st;
    int found;
} state_of;

static void find_state(void *ctx, int number, trial_state st, const study_point *pt,
                       const double *values)
{
    (void)pt, (void)values;
    state_of *x = ctx;
    if (number == x->number) {
        x->st = st;
        x->found = 1;
    }
}

/* Member i's record of this generation (g<G>_m<M>.json), if a killed run
 * left one: then it is not run again. Without one, the start file
 * (g<G>_m<M>.start: the trial number, written when the trial began) tells
 * whether the trial was recorded COMPLETE before its checkpoint reached the
 * disk: then it is not run again either (no member-interval is COMPLETE
 * twice) and the member, without a checkpoint, counts as failed. */
static void read_record(sched *s, struct sched_pbt *p, int i)
{
    char sname[64];
    unsigned char *stext = NULL;
    size_t slen = 0;
    pt_err se = {{0}};
    file_name(sname, sizeof sname, p->gen, i, "start");
    if (pbt_files_read(p->dir, sname, &stext, &slen, NULL, &se) == PT_OK) {
        state_of x = {.number = atoi((const char *)stext)};
        free(stext);
        pt_err e = {{0}};
        if (store_each_trial(s->db, s->study_id, s->sc, find_state, &x, &e) == PT_OK && x.found &&
            (x.st == TRIAL_COMPLETE || x.st == TRIAL_PRUNED)) {
            p->m[i].state = M_FAILED;
            p->m[i].number = x.number;
            p->m[i].value = NAN;
            p->m[i].violation = INFINITY;
        }
    }
    char name[64];
    unsigned char *text = NULL;
    size_t len = 0;
    pt_err e = {{0}};
    file_name(name, sizeof name, p->gen, i, "json");
    if (pbt_files_read(p->dir, name, &text, &len, NULL, &e) != PT_OK) {
        if (p->m[i].state == M_FAILED)
            write_record(p, i);
        return;
    }
    cJSON *o = cJSON_Parse((const char *)text);
    free(text);
    member *m = &p->m[i];
    if (cJSON_IsObject(o)) {
        m->number = (int)proto_num(o, "number", -1);
        m->value = proto_num(o, "value", NAN);
        m->violation = proto_num(o, "violation", INFINITY);
        m->sparsity = proto_num(o, "sparsity", 0);
        m->state = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "failed")) ? M_FAILED : M_DONE;
    }
    cJSON_Delete(o);
}

static void write_record(struct sched_pbt *p, int i)
{
    const member *m = &p->m[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "number", m->number);
    cJSON_AddBoolToObject(o, "failed", m->state == M_FAILED);
    if (m->state == M_DONE) {
        pt_json_add_num(o, "value", m->value);
        pt_json_add_num(o, "violation", m->violation);
        pt_json_add_num(o, "sparsity", m->sparsity);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char name[64];
    pt_err e = {{0}};
    file_name(name, sizeof name, p->gen, i, "json");
    /* Lost, this record only costs the member-interval a rerun on resume. */
    if (text)
        pbt_files_write(p->dir, name, text, strlen(text), &e);
    free(text);
}

pt_status sched_pbt_open(sched *s, pt_err *err)
{
    const study_config *sc = s->sc;
    struct sched_pbt *p = calloc(1, sizeof *p);
    if (!p || !(p->m = calloc((size_t)sc->pbt.population, sizeof *p->m))) {
        free(p);
        return pt_fail(err, PT_ERR_NOMEM, "pbt: out of memory");
    }
    s->pbt = p;
    p->P = sc->pbt.population;
    p->I = sc->pbt.interval;
    p->E = sc->trial.train.epochs;
    p->G = (p->E + p->I - 1) / p->I;
    pt_status st = pbt_files_dir(sc->storage, sc->name, p->dir, sizeof p->dir, err);
    int found = 0;
    if (st == PT_OK)
        st = read_state(p, &found, err);
    for (int i = 0; st == PT_OK && i < p->P; i++) {
        member *m = &p->m[i];
        m->number = -1;
        if (!found) { /* generation 0: a random point per member, by member index */
            pt_err aerr = {{0}};
            if (sampler_ask(s->sm, i, &m->point, &aerr) != PT_OK)
                st = pt_fail(err, PT_ERR_CONFIG, "pbt: member %d: %s", i, aerr.msg);
            m->parent = m->parent_trial = m->exploited = -1;
        } else {
            read_record(s, p, i);
        }
    }
    if (st == PT_OK && !found)
        st = write_state(p, err);
    if (st == PT_OK && found && !s->o->quiet && p->gen < p->G)
        fprintf(stderr, "pbt: resuming at generation %d of %d\n", p->gen + 1, p->G);
    return st;
}

void sched_pbt_free(struct sched_pbt *p)
{
    if (!p)
        return;
    free(p->m);
    free(p);
}

int sched_pbt_left(const sched *s)
{
    /* Until the last generation's boundary is crossed (sched_pbt_turn),
     * members are running, waiting or being recorded. */
    return s->pbt->gen < s->pbt->G;
}

static member *by_number(struct sched_pbt *p, int number, int *idx)
{
    for (int i = 0; i < p->P; i++)
        if (p->m[i].number == number &&
            (p->m[i].state == M_RUNNING || p->m[i].state == M_MODEL)) {
            if (idx)
                *idx = i;
            return &p->m[i];
        }
    return NULL;
}

/* The epoch the current generation's intervals end at (the last may be
 * shorter: E need not be a multiple of the interval). */
static int interval_end(const struct sched_pbt *p)
{
    return (p->gen + 1) * p->I < p->E ? (p->gen + 1) * p->I : p->E;
}

pt_status sched_pbt_start(sched *s, int rank, int *used, pt_err *err)
{
    struct sched_pbt *p = s->pbt;
    *used = 0;
    int i = 0;
    while (i < p->P && p->m[i].state != M_WAIT)
        i++;
    if (p->gen >= p->G || i == p->P)
        return PT_OK;
    member *m = &p->m[i];
    pt_config cfg;
    pt_err cerr = {{0}};
    pt_status cst = study_trial_config(s->sc, &m->point, &cfg, &cerr);
    char ck_name[64] = "";
    unsigned char *ck = NULL;
    size_t ck_len = 0;
    if (cst == PT_OK) {
        cfg.train.first_epoch = p->gen * p->I;
        cfg.train.stop_epoch = interval_end(p);
        cfg.train.keep_optim = 1;
        if (m->parent >= 0) {
            file_name(ck_name, sizeof ck_name, p->gen - 1, m->parent, "npz");
            int w = snprintf(cfg.net.init, sizeof cfg.net.init, "%s/%s", p->dir, ck_name);
            cst = w < 0 || (size_t)w >= sizeof cfg.net.init
                      ? pt_fail(&cerr, PT_ERR_CONFIG, "pbt: %s/%s: path too long", p->dir, ck_name)
                      : pbt_files_read(p->dir, ck_name, &ck, &ck_len, NULL, &cerr);
        }
    }
    char *json = pt_config_to_json(cst == PT_OK ? &cfg : &s->sc->trial);
    char attrs[512];
    char parent[32] = "null", expl[64] = "";
    if (m->parent_trial >= 0)
        snprintf(parent, sizeof parent, "%d", m->parent_trial);
    if (m->exploited >= 0)
        snprintf(expl, sizeof expl, ", \"pbt_exploited_from\": %d", m->exploited);
    snprintf(attrs, sizeof attrs,
             "{\"pbt_member\": %d, \"pbt_generation\": %d, \"pbt_start_epoch\": %d, "
             "\"pbt_parent\": %s%s}",
             i, p->gen, p->gen * p->I, parent, expl);
    int trial_id = 0, number = 0;
    pt_status st = json ? store_trial_begin_fixed(s->db, s->study_id, s->sc, &m->point, json, attrs,
                                                  NULL, &trial_id, &number, err)
                        : pt_fail(err, PT_ERR_NOMEM, "pbt: out of memory");
    if (st != PT_OK) {
        free(json);
        free(ck);
        return st;
    }
    s->next_number = number + 1;
    s->started++;
    m->number = number;
    m->state = M_RUNNING;
    char sname[64], stext[32];
    pt_err se = {{0}};
    file_name(sname, sizeof sname, p->gen, i, "start");
    snprintf(stext, sizeof stext, "%d", number);
    pbt_files_write(p->dir, sname, stext, strlen(stext), &se); /* lost: a rerun on resume */
    if (cst != PT_OK) {
        free(json);
        free(ck);
        return sched_end_fail(s, trial_id, number, &m->point, cerr.msg, err);
    }
    cJSON *msg = sched_trial_message(s, trial_id, number, json);
    free(json);
    cJSON_AddBoolToObject(msg, "checkpoint", 1);
    cJSON_AddNumberToObject(msg, "checkpoint_bytes", (double)ck_len);
    st = proto_isend(s->comm, rank, MSG_TRIAL, msg, &s->out, err);
    cJSON_Delete(msg);
    if (st == PT_OK && ck_len > 0)
        st = proto_isend_bytes(s->comm, rank, MSG_CHECKPOINT, ck, ck_len, &s->out, err);
    free(ck);
    if (st != PT_OK)
        return st;
    sched_slot_busy(s, rank, trial_id, number, &m->point, -1);
    *used = 1;
    return PT_OK;
}

void sched_pbt_result(sched *s, int number, const double *v, double sparsity, int model_coming)
{
    struct sched_pbt *p = s->pbt;
    int i;
    member *m = by_number(p, number, &i);
    if (!m)
        return;
    m->value = v[0];
    /* The boundary this interval ends at, and whether the member's gradual
     * window is still open there (pbt.h: constraints wait for its end). */
    pt_config cfg;
    pt_err cerr = {{0}};
    int stop = interval_end(p);
    int ok = study_trial_config(s->sc, &m->point, &cfg, &cerr) == PT_OK;
    int in_window = ok && cfg.prune.schedule == PT_PRUNE_GRADUAL && stop < p->E &&
                    (double)stop <= cfg.prune.end_epoch;
    m->violation = pbt_violation(s->sc, v + s->sc->n_objectives, sparsity,
                                 ok ? cfg.prune.sparsity : NAN, in_window);
    m->sparsity = isfinite(sparsity) ? sparsity : 0;
    m->state = M_MODEL;
    if (!model_coming)
        sched_pbt_lost(s, number);
}

void sched_pbt_model(sched *s, int number, const void *bytes, size_t len)
{
    struct sched_pbt *p = s->pbt;
    int i;
    member *m = by_number(p, number, &i);
    if (!m || m->state != M_MODEL)
        return;
    char name[64];
    pt_err e = {{0}};
    file_name(name, sizeof name, p->gen, i, "npz");
    if (!bytes || pbt_files_write(p->dir, name, bytes, len, &e) != PT_OK) {
        if (!s->o->quiet && e.msg[0])
            fprintf(stderr, "pbt: member %d: checkpoint lost: %s\n", i, e.msg);
        sched_pbt_lost(s, number);
        return;
    }
    m->state = M_DONE;
    write_record(p, i);
}

void sched_pbt_lost(sched *s, int number)
{
    struct sched_pbt *p = s->pbt;
    int i;
    member *m = by_number(p, number, &i);
    if (!m)
        return;
    m->state = M_FAILED;
    m->value = NAN;
    m->violation = INFINITY;
    write_record(p, i);
}

pt_status sched_pbt_turn(sched *s, pt_err *err)
{
    struct sched_pbt *p = s->pbt;
    if (p->gen >= p->G)
        return PT_OK;
    int alive = 0;
    for (int i = 0; i < p->P; i++) {
        if (p->m[i].state != M_DONE && p->m[i].state != M_FAILED)
            return PT_OK; /* the generation is still running */
        alive += p->m[i].state == M_DONE;
    }
    if (alive == 0)
        return pt_fail(err, PT_ERR_IO,
                       "pbt: every member of generation %d failed; nothing to continue from",
                       p->gen + 1);
    int g = p->gen;
    pbt_member *fig = malloc(sizeof *fig * (size_t)p->P);
    pbt_decision *dec = malloc(sizeof *dec * (size_t)p->P);
    int *order = malloc(sizeof *order * (size_t)p->P);
    pt_status st = fig && dec && order ? PT_OK : pt_fail(err, PT_ERR_NOMEM, "pbt: out of memory");
    for (int i = 0; st == PT_OK && i < p->P; i++) {
        const member *m = &p->m[i];
        int ok = m->state == M_DONE;
        fig[i] = (pbt_member){.value = ok ? m->value : NAN,
                              .violation = ok ? m->violation : INFINITY,
                              .sparsity = ok ? m->sparsity : 0,
                              .point = m->point};
    }
    if (st == PT_OK && g + 1 < p->G)
        st = pbt_step(s->sc, g, fig, p->P, dec, err);
    if (st == PT_OK && g + 1 < p->G) {
        pbt_rank(s->sc, fig, p->P, order);
        for (int i = 0; i < p->P; i++) {
            member *m = &p->m[i];
            int from = dec[i].parent;
            /* No state of its own, or a parent without one (more failures
             * than the bottom quantile holds): the best member's, whose
             * checkpoint exists (alive members rank first). */
            if ((from < 0 && m->state == M_FAILED) || (from >= 0 && p->m[from].state == M_FAILED)) {
                from = order[0];
                dec[i].point = p->m[from].point;
            }
            m->exploited = from;
            m->parent = from >= 0 ? from : i;
            m->parent_trial = p->m[m->parent].number;
        }
        /* Points after the parents' trial numbers are read: a parent may be
         * a member whose own plan changes here. */
        for (int i = 0; i < p->P; i++) {
            p->m[i].point = dec[i].point;
            if (!s->o->quiet && p->m[i].exploited >= 0)
                fprintf(stderr, "pbt: generation %d: member %d exploits member %d (trial %d)\n",
                        g + 1, i, p->m[i].exploited, p->m[i].parent_trial);
        }
    }
    free(fig);
    free(dec);
    free(order);
    if (st != PT_OK)
        return st;
    p->gen = g + 1;
    for (int i = 0; i < p->P; i++) {
        p->m[i].state = M_WAIT;
        p->m[i].number = -1;
    }
    st = write_state(p, err);
    /* Generation g-1's files are no parent of anything any more. */
    for (int i = 0; st == PT_OK && g > 0 && i < p->P; i++) {
        char name[64];
        file_name(name, sizeof name, g - 1, i, "npz");
        pbt_files_remove(p->dir, name);
        file_name(name, sizeof name, g - 1, i, "json");
        pbt_files_remove(p->dir, name);
        file_name(name, sizeof name, g - 1, i, "start");
        pbt_files_remove(p->dir, name);
    }
    return st;
}

pt_status sched_pbt_prepare(study_config *sc, const char *source, pt_err *err)
{
    if (sc->sampler != SAMPLER_PBT)
        return PT_OK;
    const pt_config *t = &sc->trial;
    if (t->prune.schedule != PT_PRUNE_NONE && t->prune.schedule != PT_PRUNE_GRADUAL)
        return pt_fail(err, PT_ERR_CONFIG,
                       "%s: trial.prune.schedule: \"none\" or \"gradual\" with sampler \"pbt\" (a "
                       "member continues its schedule at each interval; a gradual target may "
                       "move)",
                       source);
    static const char *const fixed[] = {"train.epochs",      "train.first_epoch", "train.stop_epoch",
                                        "train.optim_reset", "train.keep_optim",  "net.init",
                                        "seed"};
    for (int i = 0; i < sc->n_params; i++) {
        const study_param *q = &sc->param[i];
        for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
            if (!strcmp(q->name, fixed[k]))
                return pt_fail(err, PT_ERR_CONFIG,
                               "%s: search_space.%s: not searched with sampler \"pbt\" (every "
                               "member runs the same epochs from the same start)",
                               source, q->name);
        for (int c = 0; !strcmp(q->name, "prune.schedule") && c < q->n_choices; c++)
            if (strcmp(q->choices[c], "\"none\"") && strcmp(q->choices[c], "\"gradual\""))
                return pt_fail(err, PT_ERR_CONFIG,
                               "%s: search_space.prune.schedule: only \"none\" and \"gradual\" "
                               "with sampler \"pbt\" (got %s)",
                               source, q->choices[c]);
    }
    int generations = (t->train.epochs + sc->pbt.interval - 1) / sc->pbt.interval;
    sc->n_trials = sc->pbt.population * generations;
    return PT_OK;
}
