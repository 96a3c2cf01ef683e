/*
 * svg.h — small inline-SVG plots for the HTML report: axes with "nice"
 * ticks, scatter, polylines, step lines, horizontal bars, a legend.
 *
 * A plot maps a data box [x0,x1] x [y0,y1] onto a fixed pixel frame inside
 * a w x h viewBox. svg_begin() writes the <svg> element, the frame, the grid,
 * the tick labels and the titles; the drawing calls add to it; svg_end()
 * closes it. Output goes straight to a FILE (no buffering of the plot), so a
 * 10,000-point scatter costs one fprintf per point. Text is HTML-escaped.
 * Points with a NAN coordinate are skipped. Nothing here allocates.
 */
#ifndef PT_SVG_H
#define PT_SVG_H

#include <stdio.h>

typedef struct {
    FILE *f;
    int w, h;                        /* viewBox size */
    double left, right, top, bottom; /* frame margins, pixels */
    double x0, x1, y0, y1;           /* data box */
} svg_plot;

/* Opens a plot. A degenerate range (x0 == x1, or NANs) is widened so the
 * plot still draws. id becomes the element id (for tests and links). */
void svg_begin(svg_plot *p, FILE *f, const char *id, int w, int h, double x0, double x1, double y0,
               double y1, const char *title, const char *xlabel, const char *ylabel);
void svg_end(svg_plot *p);

/* Data to pixel coordinates. */
double svg_px(const svg_plot *p, double x);
double svg_py(const svg_plot *p, double y);

/* Circles of radius r; title (may be NULL) is a tooltip per point, built by
 * the caller's callback tip(ctx, i, buf, cap) when given. */
typedef void (*svg_tip_fn)(void *ctx, int i, char *buf, size_t cap);
void svg_scatter(svg_plot *p, int n, const double *x, const double *y, const char *color, double r,
                 double opacity, svg_tip_fn tip, void *ctx);
/* A polyline through the points in order; step: horizontal-then-vertical
 * segments (a best-so-far line). */
void svg_line(svg_plot *p, int n, const double *x, const double *y, const char *color, double width,
              double opacity, int step);
/* Legend entries in one row under the x axis label. */
void svg_legend(svg_plot *p, int n, const char *const *names, const char *const *colors);

/* A horizontal bar chart: one bar per label, length value in [0, max]. */
void svg_hbars(FILE *f, const char *id, int w, const char *title, int n, const char *const *labels,
               const double *values, double max, const char *color);

/* Writes s HTML-escaped (& < > " '). */
void svg_escape(FILE *f, const char *s);

/* "Nice" tick step for a range, about `want` ticks: 1, 2 or 5 times 10^k. */
double svg_tick_step(double lo, double hi, int want);

#endif
