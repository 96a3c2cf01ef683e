/*
 * cmd_report.c — `prunetune report DB -o report.html`: one self-contained
 * HTML page about a study.
 *
 * The page carries everything inline (CSS in <style>, plots as <svg> drawn
 * by svg.c, no script at all), so it opens from a mail attachment or an
 * offline machine exactly as it was written. The numbers come from
 * query/report_data.c (all SQL lives there); this file only lays them
 * out. Sections: summary, the pruning-vs-regularization table (from the
 * "<study>/confirm" runs over seeds when they exist, with the paired tests
 * and the verdict, then the search's own best trial per family) with the
 * winner at each sparsity level, then four plots: optimization history,
 * accuracy vs sparsity with the Pareto front, learning curves, parameter
 * importance.
 *
 * Size stays linear in the trials: a point per trial in two plots, and at
 * most CURVES_MAX learning curves (the best trials), so a 10,000-trial study
 * gives a page of a few MB that a browser renders at once.
 *
 * Why one file of ~780 lines: one page is one document: its sections share the loaded study and the
 * escaping helpers; the reads and analyses already live in query/report_data.c
 * and the plots in svg.c, so what is left is the page's own layout.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "report_confirm.h"
#include "report_data.h"
#include "svg.h"

#define CURVES_MAX 40
static const double levels[] = {0.5, 0.8, 0.9, 0.95};
#define N_LEVELS ((int)(sizeof levels / sizeof levels[0]))
static const char *const family_color[REPORT_N_FAMILIES] = {"#555555", "#1f77b4", "#d62728",
                                                            "#8e44ad", "#aaaaaa"};
static const char *const family_label[REPORT_N_FAMILIES] = {"baseline", "regularization only",
                                                            "pruning only", "hybrid", "unknown"};

static void report_usage(FILE *f)
{
    fprintf(f, "usage: prunetune report DB -o REPORT.html [--study NAME]\n\n"
               "Writes one self-contained HTML page about a study (no network, no scripts):\n"
               "summary, the pruning vs regularization comparison table, which technique wins\n"
               "at 50/80/90/95%% sparsity, optimization history, accuracy vs sparsity with the\n"
               "Pareto front, learning curves and parameter importance. Works on a study made\n"
               "by Optuna too (prunetune-only columns are then empty). Never writes to DB.\n"
               "When the study was confirmed over seeds (its linked study NAME/confirm, written\n"
               "by prunetune confirm), the comparison comes from those runs: baseline,\n"
               "regularization only, pruning only and hybrid per confirmed strategy as mean\n"
               "+- 95%% CI over the seeds, paired t-test and Wilcoxon signed-rank test of the\n"
               "hybrid against each, and the verdict in one sentence.\n\n"
               "options:\n"
               "  -o, --output FILE  the HTML file to write (required)\n"
               "  --study NAME       the study, when DB holds several\n"
               "  -h, --help         this help\n");
}

/* ---- cell formatting ------------------------------------------------------ */

static const char *num(char *buf, size_t cap, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(buf, cap, "&ndash;");
    else
        snprintf(buf, cap, fmt, v);
    return buf;
}

static const char *count(char *buf, size_t cap, long long v)
{
    if (v < 0)
        snprintf(buf, cap, "&ndash;");
    else if (v >= 1000000)
        snprintf(buf, cap, "%.2fM", v / 1e6);
    else if (v >= 10000)
        snprintf(buf, cap, "%.1fk", v / 1e3);
    else
        snprintf(buf, cap, "%lld", v);
    return buf;
}

static const char *bytes(char *buf, size_t cap, long long v)
{
    if (v < 0)
        snprintf(buf, cap, "&ndash;");
    else if (v >= 1 << 20)
        snprintf(buf, cap, "%.2f MiB", v / 1048576.0);
    else if (v >= 1 << 10)
        snprintf(buf, cap, "%.1f KiB", v / 1024.0);
    else
        snprintf(buf, cap, "%lld B", v);
    return buf;
}

static const char *duration(char *buf, size_t cap, double s)
{
    if (isnan(s))
        snprintf(buf, cap, "&ndash;");
    else if (s < 120)
        snprintf(buf, cap, "%.1f s", s);
    else if (s < 7200)
        snprintf(buf, cap, "%.1f min", s / 60);
    else
        snprintf(buf, cap, "%.1f h", s / 3600);
    return buf;
}

/* A trial's value of parameter p as text: the choice for categoricals. */
static void param_text(const report_param *q, double v, char *buf, size_t cap)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else if (q->categorical && v >= 0 && v < q->n_choices)
        snprintf(buf, cap, "%s", q->choices[(int)v]);
    else
        snprintf(buf, cap, "%.4g", v);
}

/* ---- page sections -------------------------------------------------------- */

static void page_head(FILE *f, const report_study *r)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    svg_escape(f, r->name);
    fputs(" &mdash; prunetune report</title>\n<style>\n"
          "body{font-family:sans-serif;margin:24px auto;max-width:1100px;color:#222;"
          "padding:0 16px}\n"
          "h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;"
          "border-bottom:1px solid #ddd;padding-bottom:4px}\n"
          "table{border-collapse:collapse;margin:8px 0;font-size:13px}\n"
          "th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}\n"
          "th{background:#f4f4f4}td.l,th.l{text-align:left}\n"
          ".sw{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:5px}\n"
          ".note{color:#666;font-size:12px}.win{font-weight:bold;background:#eef7ee}\n"
          ".plots{display:flex;flex-wrap:wrap;gap:16px}svg{background:#fff;"
          "border:1px solid #eee}\ncode{font-size:12px}\n"
          "</style>\n</head>\n<body>\n",
          f);
}

static void family_cell(FILE *f, report_family fam)
{
    fprintf(f, "<td class=\"l\"><span class=\"sw\" style=\"background:%s\"></span>%s</td>",
            family_color[fam], family_label[fam]);
}

static void summary(FILE *f, const report_study *r, const char *db)
{
    char b1[64];
    fputs("<h1>Study <code>", f);
    svg_escape(f, r->name);
    fputs("</code></h1>\n<p class=\"note\">", f);
    svg_escape(f, db);
    fputs(r->has_pt ? " &middot; prunetune study"
                    : " &middot; Optuna-made study: no pruning "
                      "metrics, those columns are empty",
          f);
    fputs("</p>\n<h2>Summary</h2>\n<table id=\"summary\">\n", f);
    fputs("<tr><th class=\"l\">objectives</th><td class=\"l\">", f);
    for (int k = 0; k < r->n_objectives; k++) {
        fprintf(f, "%s", k ? ", " : "");
        svg_escape(f, r->objective[k]);
        fprintf(f, " (%s)", r->dir[k] == DIR_MAXIMIZE ? "maximize" : "minimize");
    }
    static const char *const st_names[] = {"running", "complete", "pruned", "failed", "waiting"};
    fprintf(f, "</td></tr>\n<tr><th class=\"l\">trials</th><td class=\"l\">%d:", r->n_trials);
    for (int s = 0; s < 5; s++)
        if (r->by_state[s] || s == TRIAL_COMPLETE)
            fprintf(f, " %d %s;", r->by_state[s], st_names[s]);
    fputs("</td></tr>\n", f);
    if (r->has_constraints) { /* what the tables below leave out, and why */
        fputs("<tr><th class=\"l\">constraints</th><td class=\"l\" id=\"constraints\">", f);
        svg_escape(f, r->constraints_text[0] ? r->constraints_text : "(stored by Optuna)");
        fprintf(f,
                "; %d of %d complete trials infeasible, left out of the comparison, the winners "
                "and the Pareto front</td></tr>\n",
                r->n_infeasible, r->by_state[TRIAL_COMPLETE]);
    }
    fprintf(f, "<tr><th class=\"l\">wall time</th><td class=\"l\">%s</td></tr>\n",
            duration(b1, sizeof b1, r->wall_s));
    fprintf(f,
            "<tr><th class=\"l\">budget used</th><td class=\"l\">%d trials finished in %s"
            "</td></tr>\n",
            r->n_trials - r->by_state[TRIAL_RUNNING] - r->by_state[TRIAL_WAITING],
            duration(b1, sizeof b1, r->wall_s));
    fputs("<tr><th class=\"l\">search space</th><td class=\"l\">", f);
    for (int p = 0; p < r->n_params; p++) {
        const report_param *q = &r->params[p];
        fputs("<code>", f);
        svg_escape(f, q->name);
        fputs("</code>: ", f);
        if (q->categorical) {
            for (int c = 0; c < q->n_choices; c++) {
                fputs(c ? " | " : "{", f);
                svg_escape(f, q->choices[c]);
            }
            fputs("}", f);
        } else if (!isnan(q->low) && !isnan(q->high)) {
            fprintf(f, "[%.4g, %.4g]%s", q->low, q->high, q->log ? " log" : "");
        }
        fputs("<br>", f);
    }
    fputs("</td></tr>\n", f);
    int best = -1;
    for (int i = 0; i < r->n_trials; i++)
        if (r->trials[i].state == TRIAL_COMPLETE &&
            (best < 0 || report_better(r->dir[0], r->trials[i].value, r->trials[best].value)))
            best = i;
    fputs("<tr><th class=\"l\">best trial</th><td class=\"l\" id=\"best\">", f);
    if (best >= 0) {
        fprintf(f, "#%d: %s = %.6g (%s)<br>", r->trials[best].number, r->objective[0],
                r->trials[best].value, family_label[r->trials[best].family]);
        char v[96];
        for (int p = 0; p < r->n_params; p++) {
            if (isnan(r->params[p].value[best]))
                continue;
            param_text(&r->params[p], r->params[p].value[best], v, sizeof v);
            fputs("<code>", f);
            svg_escape(f, r->params[p].name);
            fputs("=", f);
            svg_escape(f, v);
            fputs("</code> ", f);
        }
    } else {
        fputs("none complete yet", f);
    }
    fputs("</td></tr>\n</table>\n", f);
}

static void compare_row(FILE *f, const report_study *r, const char *what, int i, int base)
{
    char b[10][48];
    fputs("<tr>", f);
    fprintf(f, "<td class=\"l\">%s</td>", what);
    if (i < 0) {
        fputs("<td colspan=\"10\" class=\"l note\">no complete trial of this kind</td></tr>\n", f);
        return;
    }
    const report_trial *t = &r->trials[i];
    double acc = report_accuracy(r, i), d_acc = NAN;
    if (base >= 0)
        d_acc = (acc - report_accuracy(r, base)) * 100;
    family_cell(f, t->family);
    fprintf(f,
            "<td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s / %s</td><td>%s</td>"
            "<td>%s</td><td>%s</td></tr>\n",
            t->number, num(b[0], 48, acc * 100, "%.2f%%"), num(b[1], 48, d_acc, "%+.2f"),
            num(b[2], 48, t->sparsity * 100, "%.1f%%"), count(b[3], 48, t->nnz),
            bytes(b[4], 48, t->bytes_stored), bytes(b[5], 48, t->bytes_dense),
            count(b[6], 48, isnan(t->flops) ? -1 : (long long)t->flops),
            num(b[7], 48, t->latency_us, "%.1f"), num(b[8], 48, t->speedup, "%.2f&times;"));
}

/* "88.12 ± 0.21": mean and 95% CI half-width of a summary, scaled;
 * the mean alone for one seed, a dash for none. */
static const char *mean_ci(char *buf, size_t cap, const pt_stats_summary *s, double scale,
                           const char *fmt)
{
    char m[40], h[40];
    if (s->n == 0 || isnan(s->mean)) {
        snprintf(buf, cap, "&ndash;");
        return buf;
    }
    snprintf(m, sizeof m, fmt, s->mean * scale);
    if (isnan(s->ci_hi)) {
        snprintf(buf, cap, "%s", m);
        return buf;
    }
    snprintf(h, sizeof h, fmt, (s->ci_hi - s->mean) * scale);
    /* no-break spaces keep "mean ± half" on one line; a half-width has no sign */
    snprintf(buf, cap, "%s&nbsp;&plusmn;&nbsp;%s", m, h + (h[0] == '+'));
    return buf;
}

/* One row of the confirmed table: variant v of rank `rank` over its seeds. */
static void confirm_row(FILE *f, const report_confirm *c, report_family v, int rank,
                        report_confirm_metric acc, double base_latency)
{
    char b[8][128];
    pt_stats_summary s[CONFIRM_N_METRICS];
    for (int m = 0; m < CONFIRM_N_METRICS; m++)
        s[m] = report_confirm_summary(c, rank, v, (report_confirm_metric)m);
    int src = -1, r = v == REPORT_BASELINE ? 0 : rank;
    for (int i = 0; i < c->n_runs && src < 0; i++)
        if (c->runs[i].variant == v && c->runs[i].rank == r)
            src = c->runs[i].source_trial;
    fputs("<tr>", f);
    family_cell(f, v);
    if (v == REPORT_BASELINE)
        fputs("<td>&ndash;</td>", f);
    else
        fprintf(f, "<td>%d</td>", rank);
    fputs("<td class=\"l\">", f);
    svg_escape(f, r <= c->max_rank && c->strategy[r][0] ? c->strategy[r]
                  : v == REPORT_BASELINE                ? "reference config"
                                                        : "");
    if (v == REPORT_PRUNE)
        fputs(" <span class=\"note\">(regularization off)</span>", f);
    else if (v == REPORT_REG)
        fputs(" <span class=\"note\">(pruning off)</span>", f);
    fputs("</td>", f);
    if (src >= 0)
        fprintf(f, "<td>%d</td>", src);
    else
        fputs("<td>&ndash;</td>", f);
    report_confirm_cmp d = report_confirm_compare(c, rank, v, REPORT_BASELINE, acc);
    pt_stats_summary ds = {d.t.n, d.t.mean_diff, d.t.sd_diff, d.t.ci_lo, d.t.ci_hi};
    if (v == REPORT_BASELINE)
        snprintf(b[2], sizeof b[2], "&ndash;");
    else
        mean_ci(b[2], sizeof b[2], &ds, 100, "%+.2f");
    double speed = base_latency / s[CONFIRM_LATENCY].mean;
    fprintf(f,
            "<td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
            "</tr>\n",
            s[acc].n, mean_ci(b[0], sizeof b[0], &s[CONFIRM_VAL_ACC], 100, "%.2f"),
            mean_ci(b[1], sizeof b[1], &s[CONFIRM_TEST_ACC], 100, "%.2f"), b[2],
            mean_ci(b[3], sizeof b[3], &s[CONFIRM_SPARSITY], 100, "%.1f"),
            mean_ci(b[4], sizeof b[4], &s[CONFIRM_LATENCY], 1, "%.1f"),
            num(b[5], sizeof b[5], speed, "%.2f&times;"));
}

/* One paired comparison: hybrid of rank k against variant b. */
static void test_row(FILE *f, const report_confirm *c, int rank, report_family b,
                     report_confirm_metric acc)
{
    report_confirm_cmp d = report_confirm_compare(c, rank, REPORT_HYBRID, b, acc);
    char p1[32], p2[32], p3[32], ci[96];
    if (isnan(d.t.ci_lo))
        snprintf(ci, sizeof ci, "&ndash;");
    else
        snprintf(ci, sizeof ci, "%+.2f .. %+.2f", d.t.ci_lo * 100, d.t.ci_hi * 100);
    int sig = d.t.n >= 2 && d.t.p < 0.05 && (d.t.ci_lo > 0 || d.t.ci_hi < 0);
    fprintf(f,
            "<tr><td>%d</td><td class=\"l\">hybrid vs %s</td><td>%d</td><td>%s</td><td>%s</td>"
            "<td>%s</td><td>%s <span class=\"note\">(%s)</span></td><td class=\"l%s\">%s</td>"
            "</tr>\n",
            rank, family_label[b], d.t.n, num(p1, sizeof p1, d.t.mean_diff * 100, "%+.2f"), ci,
            num(p2, sizeof p2, d.t.p, "%.3g"), num(p3, sizeof p3, d.w.p, "%.3g"),
            d.w.n == 0  ? "no difference"
            : d.w.exact ? "exact"
                        : "normal approx.",
            sig && d.t.mean_diff > 0 ? " win" : "",
            d.t.n < 2 ? "too few seeds"
            : sig     ? (d.t.mean_diff > 0 ? "hybrid better" : "hybrid worse")
                      : "not significant");
}

/* The pruning-vs-regularization table from the confirmation runs: every
 * variant of every confirmed rank over its seeds, the paired tests and the
 * verdict. */
static void confirmed_comparison(FILE *f, const report_confirm *c)
{
    report_confirm_metric acc = report_confirm_accuracy(c);
    const char *acc_name = acc == CONFIRM_TEST_ACC ? "test" : "validation";
    double base_latency = report_confirm_summary(c, 0, REPORT_BASELINE, CONFIRM_LATENCY).mean;
    int complete = 0;
    for (int i = 0; i < c->n_runs; i++)
        complete += c->runs[i].state == TRIAL_COMPLETE;
    fputs("<h2>Pruning vs regularization (confirmed over seeds)</h2>\n<p class=\"note\">From "
          "the confirmation study <code>",
          f);
    svg_escape(f, c->name);
    fprintf(f,
            "</code> (%d runs, %d complete): each of the top %d strategies of the search re-run "
            "with seeds 1..S as the hybrid, its pruning-only variant (L1, L2, dropout off), its "
            "regularization-only variant (pruning off), and the baseline (pruning and "
            "regularization off, shared by all ranks). Cells: mean &plusmn; half-width of the "
            "95%% confidence interval (Student t) over the seeds, accuracy in %%; &Delta; acc: "
            "%s accuracy against the baseline, paired by seed, in points.</p>\n",
            c->n_runs, complete, c->max_rank, acc_name);
    fprintf(f,
            "<table id=\"compare\">\n<tr><th class=\"l\">variant</th><th>rank</th>"
            "<th class=\"l\">strategy</th><th>source trial</th><th>seeds</th><th>val acc</th>"
            "<th>test acc</th><th>&Delta; %s acc</th><th>sparsity</th><th>latency &micro;s</th>"
            "<th>speed-up</th></tr>\n",
            acc_name);
    confirm_row(f, c, REPORT_BASELINE, 0, acc, base_latency);
    static const report_family order[] = {REPORT_REG, REPORT_PRUNE, REPORT_HYBRID};
    for (int k = 1; k <= c->max_rank; k++)
        for (int v = 0; v < 3; v++)
            confirm_row(f, c, order[v], k, acc, base_latency);
    fprintf(f,
            "</table>\n<h3>Paired tests</h3>\n<p class=\"note\">Differences of %s accuracy in "
            "points, paired by seed: paired t-test (two-sided p, 95%% CI of the mean difference) "
            "and Wilcoxon signed-rank test (two-sided p; exact without ties, else the normal "
            "approximation; zero differences dropped). Significant: p &lt; 0.05.</p>\n"
            "<table id=\"confirm-tests\">\n<tr><th>rank</th><th class=\"l\">comparison</th>"
            "<th>pairs</th><th>mean diff (pp)</th><th>95%% CI (pp)</th><th>paired t-test p</th>"
            "<th>Wilcoxon p</th><th class=\"l\">result</th></tr>\n",
            acc_name);
    static const report_family against[] = {REPORT_PRUNE, REPORT_REG, REPORT_BASELINE};
    for (int k = 1; k <= c->max_rank; k++)
        for (int v = 0; v < 3; v++)
            test_row(f, c, k, against[v], acc);
    char verdict[1024];
    report_confirm_verdict(c, 1, verdict, sizeof verdict);
    fputs("</table>\n<p id=\"verdict\"><b>Verdict:</b> ", f);
    svg_escape(f, verdict);
    fputs("</p>\n", f);
}

static void comparison(FILE *f, const report_study *r)
{
    int exact = 0, base = report_baseline(r, &exact);
    int confirmed = r->confirm && r->confirm->max_rank >= 1;
    if (confirmed)
        confirmed_comparison(f, r->confirm);
    fprintf(f, "<h2>%s</h2>\n",
            confirmed ? "Best single trials of the search (one seed each)"
                      : "Pruning vs regularization");
    fputs("<p class=\"note\">Best trial of each family by "
          "the objective. Family from the trial config: pruning = a prune.schedule other than "
          "none; regularization = L1, L2 or dropout &gt; 0; hybrid = both. Accuracy is test "
          "accuracy (validation when no test set); &Delta; in points against the baseline. "
          "Latency: one sample, measured.</p>\n",
          f);
    fprintf(f, "<table id=\"%s\">\n", confirmed ? "compare-search" : "compare");
    fputs("<tr><th class=\"l\">"
          "row</th><th class=\"l\">family</th><th>trial</th><th>accuracy</th><th>&Delta; acc"
          "</th><th>sparsity</th><th>parameters</th><th>bytes (stored / dense)</th>"
          "<th>FLOPs / sample</th><th>latency &micro;s</th><th>speed-up</th></tr>\n",
          f);
    compare_row(f, r,
                base >= 0 && r->trials[base].reference && r->trials[base].pretrained
                    ? "baseline (pre-trained network, as loaded)"
                : base >= 0 && r->trials[base].reference ? "baseline (reference trial)"
                : exact || base < 0                    ? "baseline"
                                    : "baseline (closest: least pruning + regularization)",
                base, base);
    compare_row(f, r, "best regularization only", report_best_of(r, REPORT_REG), base);
    compare_row(f, r, "best pruning only", report_best_of(r, REPORT_PRUNE), base);
    compare_row(f, r, "best hybrid", report_best_of(r, REPORT_HYBRID), base);
    fputs("</table>\n<h3>Which technique wins at each sparsity level</h3>\n<p class=\"note\">"
          "Best accuracy among the complete trials whose measured sparsity reaches the level."
          "</p>\n<table id=\"levels\">\n<tr><th>sparsity &ge;</th>",
          f);
    static const report_family fams[] = {REPORT_REG, REPORT_PRUNE, REPORT_HYBRID};
    for (int k = 0; k < 3; k++)
        fprintf(f, "<th>%s</th>", family_label[fams[k]]);
    fputs("<th class=\"l\">winner</th></tr>\n", f);
    for (int l = 0; l < N_LEVELS; l++) {
        int best[3], win = -1;
        for (int k = 0; k < 3; k++) {
            best[k] = report_best_at(r, fams[k], levels[l]);
            if (best[k] >= 0 &&
                (win < 0 || report_accuracy(r, best[k]) > report_accuracy(r, best[win])))
                win = k;
        }
        fprintf(f, "<tr><td>%.0f%%</td>", levels[l] * 100);
        for (int k = 0; k < 3; k++) {
            if (best[k] < 0)
                fputs("<td>&ndash;</td>", f);
            else
                fprintf(f, "<td%s>%.2f%% <span class=\"note\">(#%d)</span></td>",
                        k == win ? " class=\"win\"" : "", report_accuracy(r, best[k]) * 100,
                        r->trials[best[k]].number);
        }
        if (win < 0)
            fputs("<td class=\"l note\">no trial reaches it</td></tr>\n", f);
        else
            fprintf(f, "<td class=\"l\">%s</td></tr>\n", family_label[fams[win]]);
    }
    fputs("</table>\n", f);
}

/* ---- plots ----------------------------------------------------------------- */

/* Min and max of the finite values of v[0..n), padded by 4% of the span. */
static void span(const double *v, int n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            *lo = fmin(*lo, v[i]);
            *hi = fmax(*hi, v[i]);
        }
    double pad = (*hi - *lo) * 0.04;
    if (isfinite(pad)) {
        *lo -= pad;
        *hi += pad;
    }
}

typedef struct {
    const report_study *r;
    const int *idx;
} tip_ctx;

static void trial_tip(void *ctx, int i, char *buf, size_t cap)
{
    const tip_ctx *c = ctx;
    const report_trial *t = &c->r->trials[c->idx[i]];
    int n = snprintf(buf, cap, "#%d %s: value %.4g", t->number, family_label[t->family], t->value);
    if (!isnan(t->sparsity) && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, ", sparsity %.3f", t->sparsity);
}

/* A plot's legend: the families drawn, then the lines. */
typedef struct {
    int n;
    const char *names[REPORT_N_FAMILIES + 2], *colors[REPORT_N_FAMILIES + 2];
} legend;

static void legend_add(legend *l, const char *name, const char *color)
{
    l->names[l->n] = name;
    l->colors[l->n++] = color;
}

/* Scatter of (x, y) per family, the families into the legend. xs/ys/idx
 * are scratch arrays of n_trials. */
static void family_scatter(svg_plot *p, const report_study *r, const double *x, const double *y,
                           double *xs, double *ys, int *idx, legend *leg)
{
    for (int fam = 0; fam < REPORT_N_FAMILIES; fam++) {
        int n = 0;
        for (int i = 0; i < r->n_trials; i++)
            if (r->trials[i].family == (report_family)fam && !isnan(x[i]) && !isnan(y[i])) {
                xs[n] = x[i];
                ys[n] = y[i];
                idx[n++] = i;
            }
        if (!n)
            continue;
        tip_ctx c = {r, idx};
        svg_scatter(p, n, xs, ys, family_color[fam], r->n_trials > 2000 ? 2 : 3.5, 0.7, trial_tip,
                    &c);
        legend_add(leg, family_label[fam], family_color[fam]);
    }
}

static void plot_history(FILE *f, const report_study *r, double *a, double *b, double *xs,
                         double *ys, int *idx)
{
    double lo, hi, best = NAN;
    for (int i = 0; i < r->n_trials; i++) {
        a[i] = r->trials[i].number;
        b[i] = r->trials[i].state == TRIAL_COMPLETE ? r->trials[i].value : NAN;
    }
    span(b, r->n_trials, &lo, &hi);
    svg_plot p;
    svg_begin(&p, f, "plot-history", 540, 360, -0.5, r->n_trials ? a[r->n_trials - 1] + 0.5 : 1, lo,
              hi, "Optimization history", "trial", r->objective[0]);
    legend leg = {0};
    family_scatter(&p, r, a, b, xs, ys, idx, &leg);
    int n = 0;
    for (int i = 0; i < r->n_trials; i++)
        if (!isnan(b[i]) && (isnan(best) || report_better(r->dir[0], b[i], best))) {
            best = b[i];
            xs[n] = a[i];
            ys[n++] = best;
        }
    if (n) {
        xs[n] = a[r->n_trials - 1];
        ys[n++] = best;
    }
    svg_line(&p, n, xs, ys, "#2ca02c", 2, 0.9, 1);
    legend_add(&leg, "best so far", "#2ca02c");
    svg_legend(&p, leg.n, leg.names, leg.colors);
    svg_end(&p);
}

static void plot_sparsity(FILE *f, const report_study *r, double *a, double *b, double *xs,
                          double *ys, int *idx)
{
    double lo, hi;
    for (int i = 0; i < r->n_trials; i++) {
        a[i] = r->trials[i].state == TRIAL_COMPLETE ? r->trials[i].sparsity : NAN;
        b[i] = r->trials[i].state == TRIAL_COMPLETE ? report_accuracy(r, i) : NAN;
        if (isnan(a[i]))
            b[i] = NAN;
    }
    span(b, r->n_trials, &lo, &hi);
    svg_plot p;
    svg_begin(&p, f, "plot-pareto", 540, 360, 0, 1, lo, hi, "Accuracy vs sparsity (Pareto front)",
              "sparsity", "accuracy");
    legend leg = {0};
    family_scatter(&p, r, a, b, xs, ys, idx, &leg);
    int n = report_pareto(r, idx);
    for (int k = 0; k < n; k++) {
        xs[k] = r->trials[idx[k]].sparsity;
        ys[k] = report_accuracy(r, idx[k]);
    }
    svg_line(&p, n, xs, ys, "#ff7f0e", 2, 0.9, 0);
    legend_add(&leg, "Pareto front", "#ff7f0e");
    svg_legend(&p, leg.n, leg.names, leg.colors);
    if (n == 0)
        fprintf(f, "<text x=\"80\" y=\"150\" font-size=\"13\" fill=\"#666\">no sparsity "
                   "measured in this study</text>\n");
    svg_end(&p);
}

typedef struct {
    double key; /* larger is better */
    int i;
} ranked;

static int by_key_desc(const void *x, const void *y)
{
    const ranked *a = x, *b = y;
    return a->key != b->key ? (a->key < b->key ? 1 : -1) : a->i - b->i;
}

/* The trials with an objective value, best first, into idx; returns how many. */
static int rank_trials(const report_study *r, int *idx)
{
    ranked *rk = malloc(((size_t)r->n_trials + 1) * sizeof *rk);
    int n = 0;
    for (int i = 0; rk && i < r->n_trials; i++)
        if (!isnan(r->trials[i].value))
            rk[n++] =
                (ranked){r->dir[0] == DIR_MAXIMIZE ? r->trials[i].value : -r->trials[i].value, i};
    if (rk)
        qsort(rk, (size_t)n, sizeof *rk, by_key_desc);
    for (int k = 0; k < n; k++)
        idx[k] = rk[k].i;
    free(rk);
    return n;
}

static void plot_curves(FILE *f, const report_study *r, double *xs, double *ys, int *idx)
{
    char *chosen = calloc((size_t)r->n_trials + 1, 1);
    int n = rank_trials(r, idx);
    for (int k = 0; chosen && k < n && k < CURVES_MAX; k++)
        chosen[idx[k]] = 1;
    double lo = INFINITY, hi = -INFINITY, smin = INFINITY, smax = -INFINITY;
    for (int k = 0; k < r->n_points; k++)
        if (chosen && chosen[r->points[k].trial]) {
            lo = fmin(lo, r->points[k].value);
            hi = fmax(hi, r->points[k].value);
            smin = fmin(smin, r->points[k].step);
            smax = fmax(smax, r->points[k].step);
        }
    if (!(smin < smax)) { /* no points, or a single step: show [step - 1, step] */
        smax = isfinite(smax) ? smax : 1;
        smin = smax - 1;
    }
    svg_plot p;
    svg_begin(&p, f, "plot-curves", 540, 360, smin, smax, lo - (hi - lo) * 0.04,
              hi + (hi - lo) * 0.04, "Learning curves (best 40 trials, bold: the best)",
              "step (epoch)", "intermediate value");
    for (int k = 0; chosen && k < r->n_points;) {
        int t = r->points[k].trial, m = 0;
        for (; k < r->n_points && r->points[k].trial == t; k++) {
            xs[m] = r->points[k].step;
            ys[m++] = r->points[k].value;
        }
        if (chosen[t])
            svg_line(&p, m, xs, ys, family_color[r->trials[t].family], n && t == idx[0] ? 2.5 : 1.2,
                     n && t == idx[0] ? 1 : 0.55, 0);
    }
    legend leg = {0};
    for (int fam = 0; fam < REPORT_N_FAMILIES; fam++)
        for (int k = 0; k < n && k < CURVES_MAX; k++)
            if (r->trials[idx[k]].family == (report_family)fam) {
                legend_add(&leg, family_label[fam], family_color[fam]);
                break;
            }
    svg_legend(&p, leg.n, leg.names, leg.colors);
    if (r->n_points == 0)
        fprintf(f, "<text x=\"80\" y=\"150\" font-size=\"13\" fill=\"#666\">no intermediate "
                   "values reported</text>\n");
    svg_end(&p);
    free(chosen);
}

static void plot_importance(FILE *f, const report_study *r)
{
    double *imp = calloc((size_t)r->n_params + 1, sizeof *imp);
    ranked *rk = calloc((size_t)r->n_params + 1, sizeof *rk);
    const char **labels = calloc((size_t)r->n_params + 1, sizeof *labels);
    double *vals = calloc((size_t)r->n_params + 1, sizeof *vals);
    int n = 0;
    if (imp && rk && labels && vals) {
        report_importance(r, imp);
        for (int p = 0; p < r->n_params; p++)
            rk[n++] = (ranked){isnan(imp[p]) ? -1 : imp[p], p};
        qsort(rk, (size_t)n, sizeof *rk, by_key_desc);
        for (int k = 0; k < n; k++) {
            labels[k] = r->params[rk[k].i].name;
            vals[k] = imp[rk[k].i];
        }
    }
    svg_hbars(f, "plot-importance", 540,
              "Parameter importance (share of objective variance explained)", n, labels, vals, 1,
              "#1f77b4");
    free(imp);
    free(rk);
    free(labels);
    free(vals);
}

/* A PBT study: the winner's lineage (report_pbt_lineage) as a table, its
 * objective over epochs, and each numeric parameter over epochs as a step
 * line (the value in force from each member-interval's start epoch), on a
 * log10 axis for a log parameter. */
static void pbt_section(FILE *f, const report_study *r, double *xs, double *ys, int *idx)
{
    int n = report_pbt_lineage(r, idx);
    if (n == 0)
        return;
    const report_trial *w = &r->trials[idx[n - 1]];
    int step = n > 1 ? r->trials[idx[n - 1]].pbt_start_epoch - r->trials[idx[n - 2]].pbt_start_epoch
                     : 1;
    int end = w->pbt_start_epoch + (step > 0 ? step : 1); /* the winner's last epoch, 1-based */
    char buf[64];
    fprintf(f, "<h2>PBT: the winner's lineage</h2>\n<p>Trial %d (member %d, generation %d) is the "
               "best feasible member of the last generation; each row is a member-interval "
               "that continued the checkpoint of the row above (<code>prunetune strategy "
               "--trial %d --config FILE</code> writes the train config that replays it).</p>\n"
               "<table id=\"pbt-lineage\">\n<tr><th>epochs</th><th>trial</th><th>member</th><th>",
            w->number, w->pbt_member, w->pbt_generation + 1, w->number);
    svg_escape(f, r->objective[0]);
    fputs("</th>", f);
    for (int p = 0; p < r->n_params; p++) {
        fputs("<th>", f);
        svg_escape(f, r->params[p].name);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (int k = 0; k < n; k++) {
        const report_trial *t = &r->trials[idx[k]];
        int to = k + 1 < n ? r->trials[idx[k + 1]].pbt_start_epoch : end;
        fprintf(f, "<tr><td>%d&ndash;%d</td><td>%d</td><td>%d", t->pbt_start_epoch + 1, to,
                t->number, t->pbt_member);
        if (k > 0 && r->trials[idx[k - 1]].pbt_member != t->pbt_member)
            fprintf(f, " (exploited member %d)", r->trials[idx[k - 1]].pbt_member);
        fprintf(f, "</td><td>%s</td>", num(buf, sizeof buf, t->value, "%.4f"));
        for (int p = 0; p < r->n_params; p++) {
            param_text(&r->params[p], r->params[p].value[idx[k]], buf, sizeof buf);
            fputs("<td>", f);
            svg_escape(f, buf);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n<div class=\"plots\">\n", f);
    /* The objective at every epoch of the lineage (its intermediate values). */
    int m = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < n; k++)
        for (int q = 0; q < r->n_points; q++)
            if (r->points[q].trial == idx[k]) {
                xs[m] = r->points[q].step;
                ys[m++] = r->points[q].value;
                lo = fmin(lo, r->points[q].value);
                hi = fmax(hi, r->points[q].value);
            }
    svg_plot pl;
    svg_begin(&pl, f, "plot-pbt-objective", 360, 240, 0, end, lo - (hi - lo) * 0.05 - 1e-9,
              hi + (hi - lo) * 0.05 + 1e-9, "The winner's lineage: objective", "epoch",
              r->objective[0]);
    svg_line(&pl, m, xs, ys, "#2ca02c", 2, 0.9, 0);
    svg_scatter(&pl, m, xs, ys, "#2ca02c", 3, 0.9, NULL, NULL);
    svg_end(&pl);
    for (int p = 0; p < r->n_params; p++) {
        const report_param *q = &r->params[p];
        if (q->categorical)
            continue;
        m = 0;
        lo = INFINITY, hi = -INFINITY;
        for (int k = 0; k <= n; k++) {
            int i = idx[k < n ? k : n - 1];
            double v = q->value[i];
            v = q->log && v > 0 ? log10(v) : v;
            xs[m] = k < n ? r->trials[i].pbt_start_epoch : end;
            ys[m++] = v;
            if (isfinite(v)) {
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
        }
        if (isfinite(q->low) && isfinite(q->high)) { /* the whole range of the space */
            double a = q->log && q->low > 0 ? log10(q->low) : q->low;
            double b = q->log && q->high > 0 ? log10(q->high) : q->high;
            lo = fmin(lo, a);
            hi = fmax(hi, b);
        }
        char title[96], ylabel[80], id[96];
        snprintf(title, sizeof title, "%s", q->name);
        snprintf(ylabel, sizeof ylabel, q->log ? "log10 %s" : "%s", q->name);
        snprintf(id, sizeof id, "plot-pbt-%d", p);
        svg_begin(&pl, f, id, 360, 240, 0, end, lo, hi, title, "epoch", ylabel);
        svg_line(&pl, m, xs, ys, "#d62728", 2, 0.9, 1);
        svg_end(&pl);
    }
    fputs("</div>\n", f);
}

static int write_page(FILE *f, const report_study *r, const char *db)
{
    size_t cap = (size_t)r->n_trials + (size_t)r->n_points + 2;
    double *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
    double *xs = malloc(cap * sizeof *xs), *ys = malloc(cap * sizeof *ys);
    int *idx = malloc(cap * sizeof *idx);
    int ok = a && b && xs && ys && idx;
    if (ok) {
        page_head(f, r);
        summary(f, r, db);
        comparison(f, r);
        if (r->is_pbt)
            pbt_section(f, r, xs, ys, idx);
        fputs("<h2>Search</h2>\n<div class=\"plots\">\n", f);
        plot_history(f, r, a, b, xs, ys, idx);
        plot_sparsity(f, r, a, b, xs, ys, idx);
        plot_curves(f, r, xs, ys, idx);
        plot_importance(f, r);
        time_t now = time(NULL);
        char when[64];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
        fprintf(f,
                "</div>\n<p class=\"note\">Written by prunetune report on %s. Importance: "
                "between-bin variance of the objective over its total variance, per "
                "parameter (numbers in 8 bins, categoricals by choice).</p>\n</body>\n"
                "</html>\n",
                when);
    }
    free(a);
    free(b);
    free(xs);
    free(ys);
    free(idx);
    return ok;
}

int cmd_report(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        report_usage(stdout);
        return PT_EXIT_OK;
    }
    const char *db = NULL, *out = NULL, *study = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--study") && i + 1 < argc)
            study = argv[++i];
        else if (argv[i][0] != '-' && !db)
            db = argv[i];
        else {
            fprintf(stderr, "prunetune report: unexpected argument '%s' (see --help)\n", argv[i]);
            return PT_EXIT_USAGE;
        }
    }
    if (!db || !out) {
        fprintf(stderr, "prunetune report: %s (see --help)\n",
                !db ? "missing the study DB" : "missing -o REPORT.html");
        return PT_EXIT_USAGE;
    }
    report_study r;
    pt_err err = {{0}};
    if (report_load(&r, db, study, &err) != PT_OK) {
        fprintf(stderr, "prunetune report: %s\n", err.msg);
        return PT_EXIT_USAGE;
    }
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "prunetune report: %s: cannot write: %s\n", out, strerror(errno));
        report_free(&r);
        return PT_EXIT_FAIL;
    }
    int ok = write_page(f, &r, db);
    ok = !ferror(f) && ok;
    ok = fclose(f) == 0 && ok;
    report_free(&r);
    if (!ok) {
        fprintf(stderr, "prunetune report: %s: write failed\n", out);
        return PT_EXIT_FAIL;
    }
    return PT_EXIT_OK;
}
