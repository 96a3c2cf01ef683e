/*
 * cmd_strategy.c — `prunetune strategy` of a PBT study: the winner's
 * lineage and the schedule of hyper-parameters over epochs it found
 * (coordinator/sched_pbt.c records each member-interval as a trial whose
 * user attribute pbt_parent is the trial its checkpoint came from).
 *
 * The winner is the best COMPLETE trial of the last generation (feasible
 * ones, unless --all; by the first objective or --by), or --trial N. Its
 * lineage is followed back through pbt_parent to generation 0; each trial
 * of it held its parameters from its pbt_start_epoch on. --config FILE
 * writes the train config that replays the lineage as one run
 * (query/pbt_lineage.h, which `prunetune confirm` of a PBT study re-runs
 * over seeds); a parameter without a per-epoch key that changes along the
 * lineage is named on stderr: the config holds its last value and the
 * replay is then not exact.
 *
 * Reads only through query/ (query_load, query_trial_texts): no SQL here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbt_lineage.h"
#include "query_cli.h"

int qcli_is_pbt(const query_trials *t)
{
    return query_is_pbt(t);
}

/* The best COMPLETE trial of the last generation (rows index c->t.t). */
static const query_trial *winner(qcli_ctx *c, const qcli_opts *o, int *rc)
{
    if (o->has_trial)
        return qcli_pick_trial(c, o, rc);
    const query_trials *t = &c->t;
    int ag = query_attr_index(t, "pbt_generation"), n = 0, last = -1;
    int *rows = qcli_rows_in_state(t, TRIAL_COMPLETE, &n);
    if (!rows) {
        *rc = PT_EXIT_FAIL;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        double g = query_attr_of(&t->t[rows[i]], ag);
        if (isfinite(g) && g > last)
            last = (int)g;
    }
    int k = 0;
    for (int i = 0; i < n; i++)
        if ((int)query_attr_of(&t->t[rows[i]], ag) == last)
            rows[k++] = rows[i];
    n = k;
    query_col by[8 > STUDY_MAX_OBJECTIVES ? 8 : STUDY_MAX_OBJECTIVES];
    int n_by = 0;
    pt_err err = {{0}};
    if (qcli_objective_cols(c, o->by, by, &n_by, &err) != PT_OK) {
        free(rows);
        *rc = qcli_fail_line(c, &err);
        return NULL;
    }
    int have = n > 0 ? query_rank(t, &by[0], !c->all, rows, &n, &c->n_infeasible) : 0;
    const query_trial *w = have > 0 ? &t->t[rows[0]] : NULL;
    free(rows);
    qcli_note_feasibility(c);
    if (!w) {
        fprintf(stderr, "prunetune strategy: no complete trial in the last generation of study '%s'\n",
                t->study.name);
        *rc = PT_EXIT_FAIL;
    }
    return w;
}

static void warn_changed(const char *param, void *ctx)
{
    (void)ctx;
    fprintf(stderr,
            "prunetune strategy: %s changes along the lineage and has no per-epoch train key: "
            "the config holds its last value (the replay is not exact)\n",
            param);
}

/* The replay config (pbt_lineage.h) of lin[0..n), oldest first, to path. */
static int write_config(qcli_ctx *c, const char *path, const query_trial *const *lin, int n)
{
    char *config = NULL, *result = NULL;
    pt_err err = {{0}};
    if (query_trial_texts(c->q, lin[n - 1]->trial_id, &config, &result, &err) != PT_OK)
        return qcli_fail_line(c, &err);
    free(result);
    char *text = query_pbt_replay(&c->t, lin, n, config, warn_changed, NULL);
    free(config);
    if (!text) {
        fprintf(stderr, "prunetune strategy: trial %d has no stored config\n", lin[n - 1]->number);
        return PT_EXIT_USAGE;
    }
    FILE *f = fopen(path, "w");
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f)
        ok &= fclose(f) == 0;
    free(text);
    if (!ok) {
        fprintf(stderr, "prunetune strategy: %s: cannot write the config\n", path);
        return PT_EXIT_FAIL;
    }
    fprintf(stderr, "prunetune strategy: wrote %s (prunetune train %s replays the lineage)\n", path,
            path);
    return PT_EXIT_OK;
}

int qcli_strategy_pbt(qcli_ctx *c, const qcli_opts *o)
{
    const query_trials *t = &c->t;
    int rc = PT_EXIT_OK;
    const query_trial *w = winner(c, o, &rc);
    if (!w)
        return rc;
    int a_start = query_attr_index(t, "pbt_start_epoch");
    int a_member = query_attr_index(t, "pbt_member"),
        a_expl = query_attr_index(t, "pbt_exploited_from");
    int a_gen = query_attr_index(t, "pbt_generation");
    const query_trial **lin = NULL;
    int n = query_pbt_lineage(t, w, &lin);
    if (n < 0)
        return PT_EXIT_FAIL;
    int last_epoch, ep_col = -1; /* the winner's last epoch: its "epochs" metric */
    for (int m = 0; m < QUERY_N_METRICS; m++)
        if (!strcmp(query_metric_names[m], "epochs"))
            ep_col = m;
    last_epoch = ep_col >= 0 && isfinite(w->metric[ep_col]) ? (int)w->metric[ep_col] : -1;
    printf("PBT winner: trial %d (member %d, generation %d), %s %.6g\n", w->number,
           (int)query_attr_of(w, a_member), (int)query_attr_of(w, a_gen) + 1,
           t->study.obj_name[0], w->value[0]);
    printf("lineage (epochs 1-based; each trial continued its parent's checkpoint):\n");
    for (int k = 0; k < n; k++) {
        int from = (int)query_attr_of(lin[k], a_start) + 1;
        int to = k + 1 < n ? (int)query_attr_of(lin[k + 1], a_start) : last_epoch;
        double ex = query_attr_of(lin[k], a_expl);
        char exs[48] = "";
        if (isfinite(ex))
            snprintf(exs, sizeof exs, ", exploited member %d", (int)ex);
        printf("  epochs %3d-%-3d trial %4d  member %d%s  %s %.6g\n", from, to, lin[k]->number,
               (int)query_attr_of(lin[k], a_member), exs, t->study.obj_name[0], lin[k]->value[0]);
    }
    printf("schedule of hyper-parameters over epochs:\n");
    for (int p = 0; p < t->n_params; p++) {
        printf("  %s:", t->param[p].name);
        for (int k = 0; k < n;) {
            int j = k + 1;
            while (j < n && (lin[j]->param[p] == lin[k]->param[p] ||
                             (isnan(lin[j]->param[p]) && isnan(lin[k]->param[p]))))
                j++;
            int from = (int)query_attr_of(lin[k], a_start) + 1;
            int to = j < n ? (int)query_attr_of(lin[j], a_start) : last_epoch;
            double v = lin[k]->param[p];
            if (isnan(v))
                printf("%s epochs %d-%d: -", k ? ";" : "", from, to);
            else if (t->param[p].kind == PARAM_CAT && (int)v >= 0 &&
                     (int)v < t->param[p].n_choices)
                printf("%s epochs %d-%d: %s", k ? ";" : "", from, to,
                       t->param[p].choices[(int)v]);
            else
                printf("%s epochs %d-%d: %.6g", k ? ";" : "", from, to, v);
            k = j;
        }
        printf("\n");
    }
    if (o->config)
        rc = write_config(c, o->config, lin, n);
    free(lin);
    return rc;
}
