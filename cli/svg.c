/*
 * svg.c — inline SVG plots (see svg.h).
 *
 * Coordinates are printed with one decimal: at report sizes (~700 px) that
 * is below what a screen shows, and it keeps a 10,000-point plot near 40
 * bytes a point. Colours, fonts and strokes come from attributes, not from
 * the page's CSS, so a plot copied out of the report still looks the same.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "svg.h"

void svg_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

double svg_tick_step(double lo, double hi, int want)
{
    double span = hi - lo;
    if (!(span > 0) || want < 1)
        return 1;
    double raw = span / want, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* A tick label: as many decimals as the step needs. */
static void tick_label(char *buf, size_t cap, double v, double step)
{
    if (fabs(v) < step * 1e-9)
        v = 0;
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) >= 1e6 || dec > 6)
        snprintf(buf, cap, "%.3g", v);
    else
        snprintf(buf, cap, "%.*f", dec, v);
}

double svg_px(const svg_plot *p, double x)
{
    return p->left + (x - p->x0) / (p->x1 - p->x0) * (p->w - p->left - p->right);
}

double svg_py(const svg_plot *p, double y)
{
    return p->h - p->bottom - (y - p->y0) / (p->y1 - p->y0) * (p->h - p->top - p->bottom);
}

/* Widens an empty or invalid range so the mapping stays finite. */
static void fix_range(double *lo, double *hi)
{
    if (!isfinite(*lo) || !isfinite(*hi)) {
        *lo = 0;
        *hi = 1;
    } else if (*hi <= *lo) {
        double pad = *lo != 0 ? fabs(*lo) * 0.05 : 0.5;
        *lo -= pad;
        *hi += pad;
    }
}

static void axis_ticks(svg_plot *p, int vertical)
{
    double lo = vertical ? p->y0 : p->x0, hi = vertical ? p->y1 : p->x1;
    double step = svg_tick_step(lo, hi, vertical ? 5 : 7);
    char label[32];
    for (double t = ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
        tick_label(label, sizeof label, t, step);
        if (vertical) {
            double y = svg_py(p, t);
            fprintf(p->f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>"
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%s</text>\n",
                    p->left, y, p->w - p->right, y, p->left - 5, y + 4, label);
        } else {
            double x = svg_px(p, t);
            fprintf(
                p->f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">%s</text>\n",
                x, p->top, x, p->h - p->bottom, x, p->h - p->bottom + 15, label);
        }
    }
}

void svg_begin(svg_plot *p, FILE *f, const char *id, int w, int h, double x0, double x1, double y0,
               double y1, const char *title, const char *xlabel, const char *ylabel)
{
    fix_range(&x0, &x1);
    fix_range(&y0, &y1);
    *p = (svg_plot){f, w, h, 62, 16, 30, 62, x0, x1, y0, y1};
    fprintf(f,
            "<svg id=\"%s\" viewBox=\"0 0 %d %d\" "
            "width=\"%d\" height=\"%d\" font-family=\"sans-serif\" role=\"img\">\n",
            id, w, h, w, h);
    fputs("<title>", f);
    svg_escape(f, title);
    fputs("</title>\n", f);
    axis_ticks(p, 0);
    axis_ticks(p, 1);
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#888\"/>\n",
            p->left, p->top, w - p->left - p->right, h - p->top - p->bottom);
    fprintf(f, "<text x=\"%.1f\" y=\"18\" font-size=\"14\" font-weight=\"bold\">", p->left);
    svg_escape(f, title);
    fprintf(f, "</text>\n<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">",
            p->left + (w - p->left - p->right) / 2, h - 28);
    svg_escape(f, xlabel);
    fprintf(f,
            "</text>\n<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\" "
            "font-size=\"12\">",
            p->top + (h - p->top - p->bottom) / 2);
    svg_escape(f, ylabel);
    fputs("</text>\n", f);
}

void svg_end(svg_plot *p)
{
    fputs("</svg>\n", p->f);
}

void svg_scatter(svg_plot *p, int n, const double *x, const double *y, const char *color, double r,
                 double opacity, svg_tip_fn tip, void *ctx)
{
    char buf[256];
    fprintf(p->f, "<g fill=\"%s\" fill-opacity=\"%.2f\">\n", color, opacity);
    for (int i = 0; i < n; i++) {
        if (isnan(x[i]) || isnan(y[i]))
            continue;
        fprintf(p->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"", svg_px(p, x[i]),
                svg_py(p, y[i]), r);
        if (tip) {
            tip(ctx, i, buf, sizeof buf);
            fputs("><title>", p->f);
            svg_escape(p->f, buf);
            fputs("</title></circle>\n", p->f);
        } else {
            fputs("/>\n", p->f);
        }
    }
    fputs("</g>\n", p->f);
}

void svg_line(svg_plot *p, int n, const double *x, const double *y, const char *color, double width,
              double opacity, int step)
{
    fprintf(p->f,
            "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" stroke-opacity=\"%.2f\" "
            "points=\"",
            color, width, opacity);
    int first = 1;
    double prev_y = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i]) || isnan(y[i]))
            continue;
        double px = svg_px(p, x[i]), py = svg_py(p, y[i]);
        if (step && !first)
            fprintf(p->f, "%.1f,%.1f ", px, prev_y);
        fprintf(p->f, "%.1f,%.1f ", px, py);
        prev_y = py;
        first = 0;
    }
    fputs("\"/>\n", p->f);
}

void svg_legend(svg_plot *p, int n, const char *const *names, const char *const *colors)
{
    double x = p->left, y = p->h - 10;
    for (int i = 0; i < n; i++) {
        fprintf(p->f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">",
                x + 5, y - 4, colors[i], x + 14, y);
        svg_escape(p->f, names[i]);
        fputs("</text>\n", p->f);
        x += 24 + 6.2 * (double)strlen(names[i]); /* ~6 px per 11 px sans-serif glyph */
    }
}

void svg_hbars(FILE *f, const char *id, int w, const char *title, int n, const char *const *labels,
               const double *values, double max, const char *color)
{
    int row = 22, top = 30, label_w = 170;
    int h = top + row * (n > 0 ? n : 1) + 24;
    double bar_w = w - label_w - 70;
    fprintf(f,
            "<svg id=\"%s\" viewBox=\"0 0 %d %d\" "
            "width=\"%d\" height=\"%d\" font-family=\"sans-serif\" role=\"img\">\n<title>",
            id, w, h, w, h);
    svg_escape(f, title);
    fputs("</title>\n<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">", f);
    svg_escape(f, title);
    fputs("</text>\n", f);
    if (n == 0)
        fprintf(f, "<text x=\"8\" y=\"%d\" font-size=\"12\">no parameters</text>\n", top + 14);
    for (int i = 0; i < n; i++) {
        double v = isnan(values[i]) ? 0 : values[i];
        double len = max > 0 ? v / max * bar_w : 0;
        int y = top + row * i;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"12\">", label_w - 6,
                y + 15);
        svg_escape(f, labels[i]);
        fprintf(f,
                "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>"
                "<text x=\"%.1f\" y=\"%d\" font-size=\"11\">",
                label_w, y + 3, len, row - 6, color, label_w + len + 5, y + 15);
        if (isnan(values[i]))
            fputs("n/a", f);
        else
            fprintf(f, "%.3f", values[i]);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}
