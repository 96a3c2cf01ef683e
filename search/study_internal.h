/*
 * study_internal.h — helpers shared by study.c (the file, its top-level keys,
 * the trial section), study_space.c (the search space), study_text.c (texts
 * and errors) and the samplers (conditions, the grid). Not a public
 * contract: only search/study*.c and sampler*.c include it.
 *
 * Every error goes through a study_ctx so it starts with the file name, and
 * through the "expected WHAT (got JSON)" form core/config.c uses for train
 * keys. Train keys themselves are checked by the train parser
 * (pt_config_merge), whose one-line messages study_reframe() moves under the
 * study key path they came from ("trial.", "search_space.reg.l2.low").
 */
#ifndef SEARCH_STUDY_INTERNAL_H
#define SEARCH_STUDY_INTERNAL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "jsontext.h"
#include "study.h"

typedef struct {
    const char *src; /* the file name errors start with */
    pt_err *err;
} study_ctx;

/* The source name given to the train parser so its messages can be
 * recognised and re-prefixed; never shown to users. */
#define STUDY_INNER_SRC "@"

/* Python's repr(float(v)) ("1e-06", "0.5", "1.0", "1e+16"): what Optuna's
 * json.dumps writes, so stored distributions match Optuna's byte for byte. */
void study_py_float(char *buf, size_t n, double v);
/* v as a JSON string the way Python's json.dumps (ensure_ascii) writes it.
 * Returns 0 when it does not fit in n bytes. */
int study_py_string(char *buf, size_t n, const char *v);

/* "src: path: expected what (got v)"; v may be NULL ("(missing)"). */
pt_status study_expected(const study_ctx *x, const char *path, const char *what, const cJSON *v);

/* Checks the members of obj: no duplicates, each one of allowed (NULL
 * terminated). Errors name path.member and suggest a close allowed name. */
pt_status study_check_members(const study_ctx *x, const cJSON *obj, const char *path,
                              const char *const *allowed);

/* A train parser error (inner, whose source was STUDY_INNER_SRC) as a study
 * error at `path`. key: the train key the parser was given; its own name is
 * then replaced by path. key NULL: the message is about the trial section,
 * so its key path is prefixed with path + ".". */
pt_status study_reframe(const study_ctx *x, const char *path, const char *key, const pt_err *inner,
                        pt_status code);

/* {"a":{"b":VALUE}} for key "a.b" and the JSON text VALUE (malloc'd, or
 * NULL when out of memory). An element name "a.b[k]" stands for its list
 * key "a.b" (see study_element). */
char *study_key_json(const char *key, const char *value_text);

/* study_constraints.c: parses and validates "constraints" into s->con. */
pt_status study_parse_constraints(const study_ctx *x, study_config *s, const cJSON *root);

/* study_space.c: parses and validates search_space into s->param (s->trial
 * and s->sampler already set). */
pt_status study_parse_space(const study_ctx *x, study_config *s, const cJSON *space);
/* The i-th key of a parameter as a path ("search_space.*.type"), for
 * study_key(); NULL past the end. */
const char *study_param_key(int i);
/* The canonical JSON of search_space + objectives (malloc'd), see study.h. */
char *study_space_canonical(const study_config *s);

/* The grid (study_grid_size() points, parameter 0 varying slowest): point
 * `index` into *out, conditions applied. Returns 1 when index is the one
 * index of its effective point (every parameter its condition drops sits at
 * its first value), 0 when it repeats a point another index stands for. */
int study_grid_point(const study_config *s, long index, study_point *out);
/* The index of point p in the grid (its canonical one), or -1 when p is not
 * a grid point (a value off the grid, e.g. from an older space). */
long study_grid_index(const study_config *s, const study_point *p);
/* Number of distinct points of the grid once conditions drop parameters. */
long study_grid_effective_size(const study_config *s);

/* A parameter named "key[k]" sets element k of a list key (one that takes a
 * number per layer, e.g. "prune.layer_sparsity[1]"): returns k and puts
 * "key" in base; -1 (base = name) for a plain key. Elements a point lacks
 * come from the base trial's list. */
int study_element(const char *name, char *base, size_t cap);

/* Parameter q's value v as the JSON text the train config gets (a
 * categorical's choice, an int, a float); 0 when v is not a valid choice. */
int study_value_text(const study_param *q, double v, char *buf, size_t cap);

#endif
