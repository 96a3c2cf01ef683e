/*
 * cmd_query.c — the read-only study commands: `prunetune best | top | pareto
 * | trials | studies | export | strategy DB ...`.
 *
 * They share one shape: parse options, open the DB read-only, pick the study
 * (--study, else the only / latest one), load it (query/query.h), then
 * rank/filter in memory and print. Tables are aligned text for people;
 * --json (and export) give flat records whose keys match the CSV header:
 * number, state, datetime_start, datetime_complete, value | values_K, the
 * metric columns, params.NAME, fail_reason — the names pandas users know
 * from Optuna's trials_dataframe. Bad input (missing DB, not SQLite, no such
 * study, unknown metric, bad --where) is one line on stderr and exit 2.
 *
 * Why one file of ~760 lines: the read-only commands share option parsing, study selection and the
 * table/JSON printers; each command alone is a few dozen lines.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "query_cli.h"
#include "report_confirm.h"
#include "store.h"

/* Prints the leaves of the strategy sections of a trial config, marking
 * the values the search sampled for this trial. */
static void print_strategy(const query_trials *t, const query_trial *tr, const char *config_json)
{
    cJSON *cfg = config_json ? cJSON_Parse(config_json) : NULL;
    if (!cfg) {
        printf("  (no stored config)\n");
        return;
    }
    static const char *const sections[] = {"seed", "net", "prune", "reg", "train"};
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        const cJSON *sec = cJSON_GetObjectItemCaseSensitive(cfg, sections[s]);
        const cJSON *leaf = cJSON_IsObject(sec) ? sec->child : sec;
        for (; leaf; leaf = cJSON_IsObject(sec) ? leaf->next : NULL) {
            char key[128], *v = cJSON_PrintUnformatted(leaf);
            snprintf(key, sizeof key, "%s%s%s", sections[s], cJSON_IsObject(sec) ? "." : "",
                     cJSON_IsObject(sec) ? leaf->string : "");
            int searched = 0;
            for (int p = 0; p < t->n_params; p++)
                searched |= !isnan(tr->param[p]) && !strcmp(t->param[p].name, key);
            printf("  %-24s %s%s\n", key, v ? v : "?", searched ? "   (searched)" : "");
            free(v);
        }
    }
    cJSON_Delete(cfg);
}

/* ---- confirmed figures (report_confirm.h) ---------------------------------- */

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *summary_json(const pt_stats_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", s->n);
    add_num(o, "mean", s->mean);
    add_num(o, "sd", s->sd);
    add_num(o, "ci_low", s->ci_lo);
    add_num(o, "ci_high", s->ci_hi);
    return o;
}

/* "0.8704 ± 0.0021" (or the mean alone for one seed, "-" for none). */
static void summary_text(const pt_stats_summary *s, int m, char *buf, size_t cap)
{
    const char *fmt = m == CONFIRM_LATENCY ? "%.2f" : "%.4f";
    char a[24], b[24];
    if (s->n == 0 || isnan(s->mean)) {
        snprintf(buf, cap, "-");
        return;
    }
    snprintf(a, sizeof a, fmt, s->mean);
    if (isnan(s->ci_hi)) {
        snprintf(buf, cap, "%s", a);
        return;
    }
    snprintf(b, sizeof b, fmt, s->ci_hi - s->mean);
    snprintf(buf, cap, "%s +- %s", a, b);
}

/* Adds the confirmed figures of trial tr to rec (JSON) or prints them,
 * when the study's "<name>/confirm" has runs for it. */
static int confirmed_figures(qcli_ctx *c, const query_trial *tr, cJSON *rec)
{
    report_confirm conf;
    int found = 0;
    pt_err err = {{0}};
    if (report_confirm_load(&conf, c->path, c->t.study.name, &found, &err) != PT_OK)
        return qcli_fail_line(c, &err);
    int rank = found ? report_confirm_rank_of(&conf, tr->number) : -1;
    if (rank < 0) {
        report_confirm_free(&conf);
        return PT_EXIT_OK;
    }
    report_confirm_metric acc = report_confirm_accuracy(&conf);
    static const report_family order[] = {REPORT_HYBRID, REPORT_PRUNE, REPORT_REG, REPORT_BASELINE};
    int n_var = rank == 0 ? 1 : 4, seeds = report_confirm_seeds(&conf, rank);
    char verdict[1024] = "";
    if (rank > 0)
        report_confirm_verdict(&conf, rank, verdict, sizeof verdict);
    cJSON *j = rec ? cJSON_AddObjectToObject(rec, "confirmed") : NULL;
    if (j) {
        cJSON_AddStringToObject(j, "study", conf.name);
        cJSON_AddNumberToObject(j, "rank", rank);
        cJSON_AddNumberToObject(j, "seeds", seeds);
        cJSON_AddStringToObject(j, "accuracy", report_confirm_metric_names[acc]);
    } else {
        printf("confirmed over %d seeds (study '%s', rank %d; mean +- 95%% CI)\n", seeds, conf.name,
               rank);
        printf("  %-20s %5s", "variant", "seeds");
        for (int m = 0; m < CONFIRM_N_METRICS; m++)
            printf("  %-18s", report_confirm_metric_names[m]);
        printf("\n");
    }
    cJSON *vars = j ? cJSON_AddObjectToObject(j, "variants") : NULL;
    for (int v = 0; v < n_var; v++) {
        report_family f = rank == 0 ? REPORT_BASELINE : order[v];
        cJSON *o = vars ? cJSON_AddObjectToObject(vars, report_confirm_variant_name(f)) : NULL;
        if (!o)
            printf("  %-20s %5d", report_confirm_variant_name(f),
                   report_confirm_values(&conf, rank, f, acc, NULL, NULL, conf.n_runs));
        for (int m = 0; m < CONFIRM_N_METRICS; m++) {
            pt_stats_summary s = report_confirm_summary(&conf, rank, f, (report_confirm_metric)m);
            if (o) {
                cJSON_AddItemToObject(o, report_confirm_metric_names[m], summary_json(&s));
            } else {
                char buf[80];
                summary_text(&s, m, buf, sizeof buf);
                printf("  %-18s", buf);
            }
        }
        if (!o)
            printf("\n");
    }
    for (int v = 1; v < n_var; v++) {
        report_confirm_cmp d = report_confirm_compare(&conf, rank, REPORT_HYBRID, order[v], acc);
        char key[64];
        snprintf(key, sizeof key, "hybrid_vs_%s", report_confirm_variant_name(order[v]));
        if (j) {
            cJSON *o = cJSON_AddObjectToObject(j, key);
            cJSON_AddNumberToObject(o, "pairs", d.t.n);
            add_num(o, "mean_diff", d.t.mean_diff);
            add_num(o, "ci_low", d.t.ci_lo);
            add_num(o, "ci_high", d.t.ci_hi);
            add_num(o, "t", d.t.t);
            add_num(o, "t_test_p", d.t.p);
            add_num(o, "wilcoxon_w", d.w.w);
            add_num(o, "wilcoxon_p", d.w.p);
            cJSON_AddBoolToObject(o, "wilcoxon_exact", d.w.exact);
        } else {
            printf("  hybrid vs %s: %+.2f pp %s (95%% CI %+.2f..%+.2f), paired t-test p = %.3g,"
                   " Wilcoxon signed-rank p = %.3g (%d pairs)\n",
                   report_confirm_variant_name(order[v]), d.t.mean_diff * 100,
                   report_confirm_metric_names[acc], d.t.ci_lo * 100, d.t.ci_hi * 100, d.t.p, d.w.p,
                   d.t.n);
        }
    }
    if (j && verdict[0])
        cJSON_AddStringToObject(j, "verdict", verdict);
    else if (verdict[0])
        printf("  verdict: %s\n", verdict);
    report_confirm_free(&conf);
    return PT_EXIT_OK;
}

/* After top's table: one line per shown trial that was confirmed, its
 * hybrid's accuracy over the seeds against pruning alone (the table itself
 * stays one row per trial, one seed each). */
static int confirmed_notes(qcli_ctx *c, const int *rows, int n)
{
    report_confirm conf;
    int found = 0;
    pt_err err = {{0}};
    if (report_confirm_load(&conf, c->path, c->t.study.name, &found, &err) != PT_OK)
        return qcli_fail_line(c, &err);
    report_confirm_metric acc = report_confirm_accuracy(&conf);
    int header = 0;
    for (int i = 0; found && i < n; i++) {
        int rank = report_confirm_rank_of(&conf, c->t.t[rows[i]].number);
        if (rank <= 0)
            continue;
        if (!header++)
            printf("\nconfirmed over seeds (study '%s', mean +- 95%% CI):\n", conf.name);
        pt_stats_summary h = report_confirm_summary(&conf, rank, REPORT_HYBRID, acc);
        pt_stats_summary p = report_confirm_summary(&conf, rank, REPORT_PRUNE, acc);
        report_confirm_cmp d =
            report_confirm_compare(&conf, rank, REPORT_HYBRID, REPORT_PRUNE, acc);
        char hb[80], pb[80];
        summary_text(&h, acc, hb, sizeof hb);
        summary_text(&p, acc, pb, sizeof pb);
        printf("  trial %d (rank %d): %s %s over %d seeds; pruning only %s; difference %+.2f pp, "
               "paired t-test p = %.3g\n",
               c->t.t[rows[i]].number, rank, report_confirm_metric_names[acc], hb, h.n, pb,
               d.t.mean_diff * 100, d.t.p);
    }
    report_confirm_free(&conf);
    return PT_EXIT_OK;
}

/* One best trial in full: objective values, metrics, strategy. */
static int print_best(qcli_ctx *c, const query_col *by, int row)
{
    const query_trials *t = &c->t;
    const query_trial *tr = &t->t[row];
    char buf[96];
    qcli_cell(t, tr, by, buf, sizeof buf);
    printf("best by %s (%s): trial %d, %s = %s\n", by->name,
           by->dir == DIR_MAXIMIZE ? "maximize" : "minimize", tr->number, by->name, buf);
    printf("metrics\n");
    query_col cols[QCLI_MAX_COLS];
    int n_cols = qcli_default_cols(t, &row, 1, 0, cols);
    for (int k = 0; k < n_cols; k++)
        if (cols[k].kind != COL_PARAM) {
            qcli_cell(t, tr, &cols[k], buf, sizeof buf);
            printf("  %-24s %s\n", cols[k].name, buf);
        }
    int rc = confirmed_figures(c, tr, NULL);
    if (rc != PT_EXIT_OK)
        return rc;
    char *config = NULL, *result = NULL;
    pt_err err = {{0}};
    if (query_trial_texts(c->q, tr->trial_id, &config, &result, &err) != PT_OK)
        return qcli_fail_line(c, &err);
    printf("strategy (prunetune strategy %s --trial %d prints the config)\n", c->path, tr->number);
    print_strategy(t, tr, config);
    free(config);
    free(result);
    return PT_EXIT_OK;
}

/* The study's baseline row: its reference trial (user attribute pt_role
 * "baseline"), which for a study that starts from a pre-trained network
 * (net.init) is that network as loaded, unpruned and evaluated: the figures
 * every strategy is measured against. Printed (or added to j as
 * "baseline") only for such a study, whose baseline is not a search result
 * the reader could mistake for the best one; nothing when the study has no
 * COMPLETE reference trial. */
static int pretrained_baseline(qcli_ctx *c, cJSON *j)
{
    store *ro = NULL;
    pt_err err = {{0}};
    int ref = -1;
    pt_status st = store_open(&ro, c->path, 1, &err);
    if (st == PT_OK)
        st = store_find_marked(ro, c->t.study.id, "pt_role", "\"baseline\"", &ref, &err);
    store_close(ro);
    /* The query already read this DB: a store that cannot open it is one
     * Optuna made (no prunetune tables), which has no reference trial. */
    if (st != PT_OK)
        return PT_EXIT_OK;
    const query_trial *tr = ref >= 0 ? query_find_number(&c->t, ref) : NULL;
    if (!tr || tr->state != TRIAL_COMPLETE)
        return PT_EXIT_OK;
    char *config = NULL, *result = NULL;
    if (query_trial_texts(c->q, tr->trial_id, &config, &result, &err) != PT_OK)
        return qcli_fail_line(c, &err);
    cJSON *cfg = config ? cJSON_Parse(config) : NULL;
    const cJSON *init =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "net"), "init");
    if (cJSON_IsString(init) && init->valuestring[0]) {
        query_col cols[QCLI_MAX_COLS];
        int row = (int)(tr - c->t.t);
        int n_cols = qcli_default_cols(&c->t, &row, 1, 0, cols);
        if (j) {
            cJSON *r = qcli_record(&c->t, tr, cols, n_cols);
            cJSON_AddStringToObject(r, "init", init->valuestring);
            cJSON_AddItemToObject(j, "baseline", r);
        } else {
            printf("\nbaseline: trial %d, the pre-trained network %s as loaded (unpruned, not "
                   "fine-tuned)\n",
                   tr->number, init->valuestring);
            char buf[96];
            for (int k = 0; k < n_cols; k++)
                if (cols[k].kind != COL_PARAM) {
                    qcli_cell(&c->t, tr, &cols[k], buf, sizeof buf);
                    printf("  %-24s %s\n", cols[k].name, buf);
                }
        }
    }
    cJSON_Delete(cfg);
    free(config);
    free(result);
    return PT_EXIT_OK;
}

static void study_line(const query_study *s)
{
    printf("study '%s': %d trials (%d complete, %d pruned, %d failed, %d running)\n", s->name,
           s->n_trials, s->n_state[TRIAL_COMPLETE], s->n_state[TRIAL_PRUNED],
           s->n_state[TRIAL_FAIL], s->n_state[TRIAL_RUNNING]);
}

static void best_usage(FILE *f)
{
    fprintf(f, "usage: prunetune best DB [--by METRIC] [--all] [--study NAME] [--json]\n\n"
               "The best complete trial of the study for each objective (for several\n"
               "objectives also their Pareto set), with its metrics and its full strategy:\n"
               "pruning schedule, granularity, sparsity, L1/L2/dropout and training params.\n"
               "A study with constraints ranks its feasible trials only and says on stderr\n"
               "how many were left out.\n"
               "When the study was confirmed (prunetune confirm, study key \"confirm\") and\n"
               "the trial is one of the confirmed strategies, also its figures over the seeds\n"
               "(mean +- 95%% CI per variant: hybrid, pruning only, regularization only,\n"
               "baseline), the paired tests and the verdict.\n\n"
               "options:\n"
               "  --by METRIC   rank by this instead: an objective, a metric column (val_acc,\n"
               "                test_acc, sparsity, nnz, bytes_stored, latency_b1_us, ...) or a\n"
               "                parameter (reg.l2); add :max or :min to set the direction\n"
               "  --all         also trials that violate the study's constraints\n"
               "  --study NAME  the study (default: the only / most recent one)\n"
               "  --json        the trials as JSON records, with their config\n"
               "  -h, --help    this help\n\n"
               "exit status: 0 shown, 1 no complete trial yet, 2 bad database, study or metric\n");
}

int cmd_best(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return best_usage(stdout), PT_EXIT_OK;
    qcli_opts o;
    qcli_ctx c;
    int rc = qcli_parse_opts("best", argc, argv, "study,by,json,all", &o);
    if (rc >= 0 || (rc = qcli_open_ctx(&c, "best", &o)) >= 0)
        return rc;
    pt_err err = {{0}};
    query_col by[8];
    int n_by = 0;
    if (qcli_objective_cols(&c, o.by, by, &n_by, &err) != PT_OK) {
        rc = qcli_fail_line(&c, &err);
        goto out;
    }
    cJSON *j = o.json ? cJSON_CreateObject() : NULL, *list = NULL;
    if (j) {
        cJSON_AddStringToObject(j, "study", c.t.study.name);
        list = cJSON_AddArrayToObject(j, "best");
        if (c.t.study.has_constraints)
            cJSON_AddStringToObject(j, "constraints", c.t.study.constraints_text);
    } else {
        study_line(&c.t.study);
    }
    query_col all[QCLI_MAX_COLS];
    int n_all = qcli_default_cols(&c.t, NULL, 0, 1, all);
    rc = PT_EXIT_OK;
    for (int k = 0; k < n_by && rc == PT_EXIT_OK; k++) {
        int row = qcli_best_by(&c, &by[k]);
        if (row < 0) {
            fprintf(stderr, "prunetune best: no complete%s trial with %s in study '%s'\n",
                    c.t.study.has_constraints && !c.all ? " feasible" : "", by[k].name,
                    c.t.study.name);
            rc = PT_EXIT_FAIL;
        } else if (j) {
            cJSON *r = qcli_record(&c.t, &c.t.t[row], all, n_all);
            char *config = NULL, *result = NULL;
            if (query_trial_texts(c.q, c.t.t[row].trial_id, &config, &result, &err) != PT_OK)
                rc = qcli_fail_line(&c, &err);
            cJSON_AddStringToObject(r, "by", by[k].name);
            cJSON *cfg = config ? cJSON_Parse(config) : NULL;
            cJSON_AddItemToObject(r, "config", cfg ? cfg : cJSON_CreateNull());
            cJSON_AddItemToArray(list, r);
            if (rc == PT_EXIT_OK)
                rc = confirmed_figures(&c, &c.t.t[row], r);
            free(config);
            free(result);
        } else {
            printf("\n");
            rc = print_best(&c, &by[k], row);
        }
    }
    if (rc == PT_EXIT_OK && !o.by && n_by > 1) {
        int n, *rows = qcli_rows_in_state(&c.t, TRIAL_COMPLETE, &n);
        if (rows && !c.all)
            n = query_keep_feasible(&c.t, rows, n, NULL);
        int *front = malloc(sizeof(int) * (size_t)(n ? n : 1));
        int n_front = rows && front ? query_pareto(&c.t, by, n_by, rows, n, front) : 0;
        if (j) {
            cJSON *p = cJSON_AddArrayToObject(j, "pareto");
            for (int i = 0; i < n_front; i++)
                cJSON_AddItemToArray(p, qcli_record(&c.t, &c.t.t[front[i]], all, n_all));
        } else {
            printf("\nPareto set of the objectives (%d trials):\n", n_front);
            rc = qcli_print_table(stdout, &c.t, front, n_front, by, n_by);
        }
        free(rows);
        free(front);
    }
    if (rc == PT_EXIT_OK)
        rc = pretrained_baseline(&c, j);
    qcli_note_feasibility(&c);
    if (j && c.t.study.has_constraints)
        cJSON_AddNumberToObject(j, c.all ? "infeasible_included" : "infeasible_left_out",
                                c.n_infeasible);
    if (j && rc == PT_EXIT_OK)
        rc = qcli_print_json(stdout, j);
    else
        cJSON_Delete(j);
out:
    qcli_close_ctx(&c);
    return rc;
}

static void top_usage(FILE *f)
{
    fprintf(f, "usage: prunetune top DB [-n K] [--by METRIC] [--where COND] [--all] "
               "[--study NAME] [--json]\n\n"
               "The K best complete trials (default 10; 0 = all) as an aligned table: number,\n"
               "state, the ranking metric, objectives, measured metrics, parameters. A study\n"
               "with constraints shows its feasible trials only and says on stderr how many\n"
               "were left out. In a study Optuna made, numeric user attributes are metrics\n"
               "too; a name that is both a parameter and a metric must be said as\n"
               "params.NAME or attrs.NAME. Trials that were confirmed over seeds (prunetune\n"
               "confirm) get a line after the table with their accuracy mean +- 95%% CI\n"
               "against pruning alone.\n\n"
               "options:\n"
               "  -n K          how many\n"
               "  --by METRIC   rank by an objective (default: the first), a metric column\n"
               "                (val_acc, test_acc, sparsity, nnz, bytes_stored, latency_b1_us,\n"
               "                speedup_b1, ...) or a parameter (reg.l2); METRIC:max / :min\n"
               "                sets the direction\n"
               "  --where COND  keep trials where every comparison holds, e.g.\n"
               "                'sparsity>=0.9 and val_acc>0.85' or 'reg.l2<1e-3,nnz<=20000':\n"
               "                METRIC OP NUMBER, OP one of < <= > >= = !=, joined by ',' or\n"
               "                ' and '; a categorical parameter also takes = / != TEXT\n"
               "                (prune.schedule=gradual)\n"
               "  --all         also trials that violate the study's constraints\n"
               "  --study NAME  the study (default: the only / most recent one)\n"
               "  --json        JSON records instead of the table\n"
               "  -h, --help    this help\n\n"
               "exit status: 0 shown, 2 bad database, study, metric or condition\n");
}

int cmd_top(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return top_usage(stdout), PT_EXIT_OK;
    qcli_opts o;
    qcli_ctx c;
    int rc = qcli_parse_opts("top", argc, argv, "study,by,where,n,json,all", &o);
    if (rc >= 0 || (rc = qcli_open_ctx(&c, "top", &o)) >= 0)
        return rc;
    pt_err err = {{0}};
    query_col by[8];
    int n_by = 0, n = 0, *rows = NULL;
    if (qcli_objective_cols(&c, o.by, by, &n_by, &err) != PT_OK)
        rc = qcli_fail_line(&c, &err);
    else if ((rows = qcli_filtered(&c, o.where, &n, &rc))) {
        int have = query_sort(&c.t, &by[0], rows, n), shown = o.n && o.n < have ? o.n : have;
        qcli_note_feasibility(&c);
        rc = qcli_show(&o, &c.t, rows, shown, by, 1);
        if (rc == PT_EXIT_OK && !o.json)
            rc = confirmed_notes(&c, rows, shown);
    }
    free(rows);
    qcli_close_ctx(&c);
    return rc;
}

static void pareto_usage(FILE *f)
{
    fprintf(f, "usage: prunetune pareto DB [--objectives LIST] [--where COND] [--all] "
               "[--study NAME] [--json]\n\n"
               "The non-dominated complete trials: no other trial is at least as good in every\n"
               "objective and better in one. Sorted by the first objective, best first. A study\n"
               "with constraints considers its feasible trials only (stderr says how many were\n"
               "left out).\n\n"
               "options:\n"
               "  --objectives LIST  comma-separated metrics, e.g. val_acc,sparsity or\n"
               "                     val_acc,latency_b1_us (default: the study's objectives).\n"
               "                     Directions follow the name (accuracy, sparsity, speed-up\n"
               "                     maximize; latency, bytes, FLOPs, loss minimize) or are\n"
               "                     given: val_acc:max,latency_b1_us:min\n"
               "  --where COND       only trials passing COND (see prunetune top --help)\n"
               "  --all              also trials that violate the study's constraints\n"
               "  --study NAME       the study (default: the only / most recent one)\n"
               "  --json             JSON records instead of the table\n"
               "  -h, --help         this help\n\n"
               "exit status: 0 shown, 2 bad database, study, metric or condition\n");
}

int cmd_pareto(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return pareto_usage(stdout), PT_EXIT_OK;
    qcli_opts o;
    qcli_ctx c;
    int rc = qcli_parse_opts("pareto", argc, argv, "study,objectives,where,json,all", &o);
    if (rc >= 0 || (rc = qcli_open_ctx(&c, "pareto", &o)) >= 0)
        return rc;
    pt_err err = {{0}};
    query_col obj[8];
    int n_obj = 0, n = 0, *rows = NULL, *front = NULL;
    if (qcli_objective_cols(&c, o.objectives, obj, &n_obj, &err) != PT_OK)
        rc = qcli_fail_line(&c, &err);
    else if ((rows = qcli_filtered(&c, o.where, &n, &rc)) &&
             (front = malloc(sizeof(int) * (size_t)(n ? n : 1)))) {
        int n_front = query_pareto(&c.t, obj, n_obj, rows, n, front);
        qcli_note_feasibility(&c);
        rc = qcli_show(&o, &c.t, front, n_front, obj, n_obj);
    }
    free(rows);
    free(front);
    qcli_close_ctx(&c);
    return rc;
}

static void trials_usage(FILE *f)
{
    fprintf(f, "usage: prunetune trials DB [--state STATE] [--study NAME] [--json]\n\n"
               "Every trial of the study in number order, with its state, objectives, metrics\n"
               "and parameters; failed trials also say why.\n\n"
               "options:\n"
               "  --state STATE  only complete | failed | pruned | running trials\n"
               "  --study NAME   the study (default: the only / most recent one)\n"
               "  --json         JSON records instead of the table\n"
               "  -h, --help     this help\n\n"
               "exit status: 0 shown, 2 bad database, study or state\n");
}

int cmd_trials(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return trials_usage(stdout), PT_EXIT_OK;
    qcli_opts o;
    qcli_ctx c;
    int rc = qcli_parse_opts("trials", argc, argv, "study,state,json", &o);
    if (rc >= 0)
        return rc;
    static const char *const states[] = {"running", "complete", "pruned", "failed", "waiting"};
    int st = -1;
    for (int k = 0; o.state && k < 5; k++)
        if (!strcmp(o.state, states[k]) || !strcasecmp(o.state, trial_state_name((trial_state)k)))
            st = k;
    if (o.state && st < 0)
        return qcli_usage_err(
            "trials", "--state: expected complete, failed, pruned or running, got", o.state);
    if ((rc = qcli_open_ctx(&c, "trials", &o)) >= 0)
        return rc;
    int n, *rows = qcli_rows_in_state(&c.t, st, &n);
    rc = rows ? qcli_show(&o, &c.t, rows, n, NULL, 0) : PT_EXIT_FAIL;
    for (int i = 0; rows && !o.json && i < n; i++)
        if (c.t.t[rows[i]].fail_reason)
            printf("trial %d failed: %s\n", c.t.t[rows[i]].number, c.t.t[rows[i]].fail_reason);
    free(rows);
    qcli_close_ctx(&c);
    return rc;
}

static void studies_usage(FILE *f)
{
    fprintf(f, "usage: prunetune studies DB [--json]\n\n"
               "The studies in the database: name, objectives, trials by state, creation date.\n\n"
               "exit status: 0 shown, 2 bad database\n");
}

int cmd_studies(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return studies_usage(stdout), PT_EXIT_OK;
    qcli_opts o;
    int rc = qcli_parse_opts("studies", argc, argv, "json", &o);
    if (rc >= 0)
        return rc;
    query_db *q = NULL;
    query_study *s = NULL;
    int n = 0;
    pt_err err = {{0}};
    if (query_open(&q, o.db, &err) != PT_OK || query_studies(q, &s, &n, &err) != PT_OK) {
        fprintf(stderr, "prunetune studies: %s\n", err.msg);
        query_close(q);
        return PT_EXIT_USAGE;
    }
    cJSON *a = o.json ? cJSON_CreateArray() : NULL;
    if (!a)
        printf("%4s  %-24s  %6s  %8s  %6s  %6s  %7s  %-19s  %s\n", "id", "name", "trials",
               "complete", "pruned", "failed", "running", "created", "objectives");
    for (int i = 0; i < n; i++) {
        char objs[320] = "";
        for (int k = 0; k < s[i].n_objectives && strlen(objs) < 250; k++)
            snprintf(objs + strlen(objs), sizeof objs - strlen(objs), "%s%s:%s", k ? "," : "",
                     s[i].obj_name[k], s[i].dir[k] == DIR_MAXIMIZE ? "max" : "min");
        if (a) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "id", s[i].id);
            cJSON_AddStringToObject(r, "name", s[i].name);
            cJSON_AddNumberToObject(r, "trials", s[i].n_trials);
            for (int k = 0; k < 5; k++)
                cJSON_AddNumberToObject(r, trial_state_name((trial_state)k), s[i].n_state[k]);
            cJSON_AddStringToObject(r, "objectives", objs);
            cJSON_AddStringToObject(r, "created", s[i].created);
            cJSON_AddItemToArray(a, r);
        } else {
            printf("%4d  %-24s  %6d  %8d  %6d  %6d  %7d  %-19.19s  %s\n", s[i].id, s[i].name,
                   s[i].n_trials, s[i].n_state[TRIAL_COMPLETE], s[i].n_state[TRIAL_PRUNED],
                   s[i].n_state[TRIAL_FAIL], s[i].n_state[TRIAL_RUNNING],
                   s[i].created[0] ? s[i].created : "-", objs);
        }
    }
    rc = a ? qcli_print_json(stdout, a) : ferror(stdout) ? PT_EXIT_FAIL : PT_EXIT_OK;
    free(s);
    query_close(q);
    return rc;
}

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        fwrite(s, 1, (size_t)(q - s) + 1, f);
        fputc('"', f);
    }
    fputs(s, f);
    fputc('"', f);
}

static void export_csv(FILE *f, const query_trials *t, const query_col *cols, int n_cols)
{
    char buf[96], num[40];
    fputs("number,state,datetime_start,datetime_complete", f);
    for (int c = 0; c < n_cols; c++) {
        qcli_col_key(t, &cols[c], buf, sizeof buf);
        fputc(',', f);
        csv_field(f, buf);
    }
    fputs(",fail_reason\n", f);
    for (int i = 0; i < t->n; i++) {
        const query_trial *tr = &t->t[i];
        fprintf(f, "%d,%s,%s,%s", tr->number, trial_state_name(tr->state), tr->start, tr->complete);
        for (int c = 0; c < n_cols; c++) {
            const char *choice = query_col_choice(t, tr, &cols[c]);
            double v = query_col_get(t, tr, &cols[c]);
            fputc(',', f);
            if (choice)
                csv_field(f, choice);
            else if (isfinite(v))
                qcli_fmt_num(num, sizeof num, v), fputs(num, f);
        }
        fputc(',', f);
        csv_field(f, tr->fail_reason ? tr->fail_reason : "");
        fputc('\n', f);
    }
}

static void export_usage(FILE *f)
{
    fprintf(f, "usage: prunetune export DB --format csv|json [-o FILE] [--study NAME]\n\n"
               "One row per trial with every parameter and metric, for pandas or a\n"
               "spreadsheet. Columns (CSV header = JSON keys): number, state, datetime_start,\n"
               "datetime_complete, value (or values_0, values_1, ...), the metric columns\n"
               "(sparsity, nnz, bytes_dense, bytes_stored, flops_per_sample, latency_b1_us,\n"
               "latency_b128_us, speedup_b1, speedup_b128, val_acc, test_acc, epochs, wall_s),\n"
               "params.NAME per parameter (categoricals as their choice), fail_reason.\n"
               "Missing values are empty in CSV and null in JSON; numbers keep all digits.\n\n"
               "options:\n"
               "  --format F    csv or json\n"
               "  -o FILE       write to FILE instead of stdout\n"
               "  --study NAME  the study (default: the only / most recent one)\n"
               "  -h, --help    this help\n\n"
               "exit status: 0 written, 1 FILE not writable, 2 bad database or study\n");
}

int cmd_export(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return export_usage(stdout), PT_EXIT_OK;
    qcli_opts o;
    qcli_ctx c;
    int rc = qcli_parse_opts("export", argc, argv, "study,format,o", &o);
    if (rc >= 0)
        return rc;
    int csv = o.format && !strcmp(o.format, "csv");
    if (!o.format || (!csv && strcmp(o.format, "json") != 0))
        return qcli_usage_err("export", "--format: expected csv or json", o.format);
    if ((rc = qcli_open_ctx(&c, "export", &o)) >= 0)
        return rc;
    FILE *f = o.out ? fopen(o.out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "prunetune export: %s: cannot write\n", o.out);
        qcli_close_ctx(&c);
        return PT_EXIT_FAIL;
    }
    query_col cols[QCLI_MAX_COLS];
    int n_cols = qcli_default_cols(&c.t, NULL, 0, 1, cols);
    if (csv) {
        export_csv(f, &c.t, cols, n_cols);
        rc = ferror(f) ? PT_EXIT_FAIL : PT_EXIT_OK;
    } else {
        int n, *rows = qcli_rows_in_state(&c.t, -1, &n);
        rc = rows ? qcli_print_records(f, &c.t, rows, n) : PT_EXIT_FAIL;
        free(rows);
    }
    if (o.out && fclose(f) != 0)
        rc = PT_EXIT_FAIL;
    if (rc != PT_EXIT_OK)
        fprintf(stderr, "prunetune export: %s: write failed\n", o.out ? o.out : "stdout");
    qcli_close_ctx(&c);
    return rc;
}

static void strategy_usage(FILE *f)
{
    fprintf(f, "usage: prunetune strategy DB [--trial N | --by METRIC] [--all] [--study NAME]\n"
               "                          [--config FILE]\n\n"
               "Prints the `prunetune train` config of a trial (the search's base config with\n"
               "the trial's sampled values and seed), so\n"
               "  prunetune strategy study.db > best.json && prunetune train best.json\n"
               "re-runs exactly that trial outside the search.\n\n"
               "A PBT study (sampler \"pbt\"): prints the winner's lineage (the best member of\n"
               "the last generation, or --trial N, back through the checkpoints it continued)\n"
               "and its schedule of hyper-parameters over epochs; --config FILE writes the\n"
               "train config with schedule.l2/l1/lr/sparsity that replays it as one run.\n\n"
               "options:\n"
               "  --trial N      the trial with this number (default: the best complete one;\n"
               "                 feasible, when the study has constraints)\n"
               "  --by METRIC    what \"best\" means (default: the first objective)\n"
               "  --all          also trials that violate the study's constraints\n"
               "  --study NAME   the study (default: the only / most recent one)\n"
               "  --config FILE  write the config to FILE instead of printing it (PBT: the\n"
               "                 lineage's replay config)\n"
               "  -h, --help     this help\n\n"
               "exit status: 0 printed, 1 no complete trial yet, 2 bad database, study, trial\n"
               "or metric\n");
}

int cmd_strategy(int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return strategy_usage(stdout), PT_EXIT_OK;
    qcli_opts o;
    qcli_ctx c;
    int rc = qcli_parse_opts("strategy", argc, argv, "study,trial,by,all,config", &o);
    if (rc >= 0 || (rc = qcli_open_ctx(&c, "strategy", &o)) >= 0)
        return rc;
    if (qcli_is_pbt(&c.t)) { /* a lineage and its schedule (cmd_strategy.c) */
        rc = qcli_strategy_pbt(&c, &o);
        qcli_close_ctx(&c);
        return rc;
    }
    pt_err err = {{0}};
    const query_trial *tr = qcli_pick_trial(&c, &o, &rc);
    char *config = NULL, *result = NULL;
    if (tr && query_trial_texts(c.q, tr->trial_id, &config, &result, &err) != PT_OK) {
        rc = qcli_fail_line(&c, &err);
    } else if (tr && !config) {
        fprintf(stderr, "prunetune strategy: trial %d has no stored config\n", tr->number);
        rc = PT_EXIT_USAGE;
    } else if (tr && o.config) {
        FILE *f = fopen(o.config, "w");
        int ok = f && fputs(config, f) >= 0 && fputc('\n', f) != EOF;
        if (f)
            ok &= fclose(f) == 0;
        if (!ok)
            fprintf(stderr, "prunetune strategy: %s: cannot write the config\n", o.config);
        rc = ok ? PT_EXIT_OK : PT_EXIT_FAIL;
    } else if (tr) {
        cJSON *j = cJSON_Parse(config);
        rc = j ? qcli_print_json(stdout, j) : PT_EXIT_FAIL;
    }
    free(config);
    free(result);
    qcli_close_ctx(&c);
    return rc;
}