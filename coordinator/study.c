/*
 * study.c — the study file: its top-level keys, the trial section, and the
 * text helpers every study error and every stored distribution go through.
 *
 * There is one parser per format (DESIGN.md), so this file parses only what
 * is the study's own (name, storage, budget, sampler, objectives). The trial
 * section is handed whole to the train parser (pt_config_parse) and each
 * search-space value to pt_config_merge (study_space.c): a key, its type and
 * its bounds stay defined once, in core/config.c, and the train parser's
 * message is only moved under the study key it came from.
 *
 * Keys are checked in a fixed order (study, storage, ..., search_space)
 * rather than document order: later keys depend on earlier ones (the grid
 * sampler needs explicit float grids, the default storage needs the name).
 * A failed parse leaves *s zeroed, so there is nothing to free.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study_internal.h"

#define SEED_MAX 9007199254740991.0 /* 2^53 - 1, as core/config.c */
#define N_TRIALS_DEFAULT 16
#define N_TRIALS_MAX 100000000

/* ---- text --------------------------------------------------------------- */

void study_fmt_double(char *buf, size_t n, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void study_py_float(char *buf, size_t n, double v)
{
    if (!isfinite(v)) { /* what json.dumps writes; never valid low/high */
        snprintf(buf, n, "%s", isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (v == 0) {
        snprintf(buf, n, "%s", signbit(v) ? "-0.0" : "0.0");
        return;
    }
    /* The fewest significant digits that read back as v (correctly rounded,
     * as Python's repr), then Python's layout of them. */
    char e[40];
    for (int prec = 0; prec <= 16; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, v);
        if (strtod(e, NULL) == v)
            break;
    }
    char digits[24];
    int nd = 0;
    const char *p = e + (e[0] == '-');
    for (; *p && *p != 'e'; p++)
        if (isdigit((unsigned char)*p) && nd < (int)sizeof digits)
            digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    char out[64];
    int o = 0;
    if (v < 0)
        out[o++] = '-';
    if (exp < -4 || exp >= 16) { /* repr switches to exponent form here */
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        o += snprintf(out + o, sizeof out - (size_t)o, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    } else if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            out[o++] = '0';
        for (int i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        for (int i = 0; i <= exp; i++)
            out[o++] = i < nd ? digits[i] : '0';
        out[o++] = '.';
        if (nd > exp + 1)
            for (int i = exp + 1; i < nd; i++)
                out[o++] = digits[i];
        else
            out[o++] = '0';
    }
    out[o] = '\0';
    snprintf(buf, n, "%s", out);
}

/* Next code point of UTF-8 text s (advanced); a malformed byte is returned
 * as itself, as Python would have rejected the file anyway. */
static unsigned next_code_point(const unsigned char **s)
{
    const unsigned char *p = *s;
    unsigned c = *p++;
    int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    unsigned cp = more == 3 ? c & 0x07 : more == 2 ? c & 0x0F : more == 1 ? c & 0x1F : c;
    for (int i = 0; i < more; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *s += 1;
            return c;
        }
        cp = cp << 6 | (p[i] & 0x3F);
    }
    *s = p + more;
    return cp;
}

int study_py_string(char *buf, size_t n, const char *v)
{
    size_t o = 0;
    char tmp[16];
#define PUT(str)                                                                                   \
    do {                                                                                           \
        size_t l_ = strlen(str);                                                                   \
        if (o + l_ + 1 > n)                                                                        \
            return 0;                                                                              \
        memcpy(buf + o, str, l_);                                                                  \
        o += l_;                                                                                   \
    } while (0)
    PUT("\"");
    for (const unsigned char *s = (const unsigned char *)v; *s;) {
        unsigned c = next_code_point(&s);
        const char *esc = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                          : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f"
                                      : NULL;
        if (esc) {
            PUT(esc);
        } else if (c >= 0x20 && c < 0x7F) {
            tmp[0] = (char)c;
            tmp[1] = '\0';
            PUT(tmp);
        } else if (c < 0x10000) { /* ensure_ascii: \uxxxx, lower-case hex */
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            PUT(tmp);
        } else {
            c -= 0x10000;
            snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
            PUT(tmp);
        }
    }
    PUT("\"");
#undef PUT
    buf[o] = '\0';
    return 1;
}

/* JSON text of v for "(got ...)", cut to a readable length. */
static void got_text(const cJSON *v, char *buf, size_t n)
{
    enum { KEEP = 40 };
    if (!v) {
        snprintf(buf, n, "missing");
        return;
    }
    if (cJSON_IsNumber(v)) {
        study_fmt_double(buf, n, v->valuedouble);
        return;
    }
    char *s = cJSON_PrintUnformatted(v);
    if (!s) {
        snprintf(buf, n, "?");
        return;
    }
    size_t len = strlen(s);
    if (len > KEEP + 3) {
        len = KEEP;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--; /* do not split a UTF-8 sequence */
        snprintf(buf, n, "%.*s...", (int)len, s);
    } else {
        snprintf(buf, n, "%s", s);
    }
    cJSON_free(s);
}

/* ---- errors ------------------------------------------------------------- */

pt_status study_expected(const study_ctx *x, const char *path, const char *what, const cJSON *v)
{
    char got[64];
    got_text(v, got, sizeof got);
    if (!*path)
        return pt_fail(x->err, PT_ERR_CONFIG, "%s: expected %s (got %s)", x->src, what, got);
    return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: expected %s (got %s)", x->src, path, what, got);
}

/* Case-insensitive Levenshtein distance of two short names. */
static int edit_distance(const char *a, const char *b)
{
    int row[64], m = (int)strlen(b);
    if (m > 63 || strlen(a) > 63)
        return INT_MAX;
    for (int j = 0; j <= m; j++)
        row[j] = j;
    for (int i = 1; a[i - 1]; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= m; j++) {
            int up = row[j], best = diag + (tolower((unsigned char)a[i - 1]) !=
                                            tolower((unsigned char)b[j - 1]));
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[m];
}

pt_status study_check_members(const study_ctx *x, const cJSON *obj, const char *path,
                              const char *const *allowed)
{
    for (const cJSON *m = obj->child; m; m = m->next) {
        char at[192];
        snprintf(at, sizeof at, "%s%s%s", path, *path ? "." : "", m->string);
        for (const cJSON *p = obj->child; p != m; p = p->next)
            if (!strcmp(p->string, m->string))
                return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: duplicate key", x->src, at);
        const char *best = NULL;
        int best_d = INT_MAX, found = 0;
        for (const char *const *a = allowed; *a && !found; a++) {
            found = !strcmp(*a, m->string);
            int d = edit_distance(m->string, *a);
            if (d <= 2 && d < (int)strlen(m->string) && d < best_d) {
                best_d = d;
                best = *a;
            }
        }
        if (found)
            continue;
        if (best)
            return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: unknown key (did you mean '%s'?)",
                           x->src, at, best);
        return pt_fail(x->err, PT_ERR_CONFIG, "%s: %s: unknown key", x->src, at);
    }
    return PT_OK;
}

pt_status study_reframe(const study_ctx *x, const char *path, const char *key, const pt_err *inner,
                        pt_status code)
{
    const char *m = inner->msg, *head = STUDY_INNER_SRC ": ";
    if (strncmp(m, head, strlen(head)) != 0)
        return pt_fail(x->err, code, "%s: %s: %s", x->src, path, m);
    m += strlen(head);
    if (key) {
        size_t kl = strlen(key);
        if (!strncmp(m, key, kl) && m[kl] == ':' && m[kl + 1] == ' ')
            m += kl + 2;
        return pt_fail(x->err, code, "%s: %s: %s", x->src, path, m);
    }
    /* "data.limit: expected ..." names a key of the section: prefix it. */
    size_t tok = strcspn(m, " :");
    if (tok > 0 && m[tok] == ':' && m[tok + 1] == ' ')
        return pt_fail(x->err, code, "%s: %s.%s", x->src, path, m);
    return pt_fail(x->err, code, "%s: %s: %s", x->src, path, m);
}

char *study_key_json(const char *key, const char *value_text)
{
    /* {"a":{"b":V}}: one "{"name": per path component, then as many "}". */
    size_t depth = 1, len = strlen(key), cap;
    for (const char *p = key; *p; p++)
        depth += *p == '.';
    cap = len + strlen(value_text) + depth * 6 + 1;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    for (const char *p = key;;) {
        size_t part = strcspn(p, ".");
        o += sprintf(o, "{\"%.*s\":", (int)part, p);
        if (!p[part])
            break;
        p += part + 1;
    }
    o += sprintf(o, "%s", value_text);
    for (size_t i = 0; i < depth; i++)
        *o++ = '}';
    *o = '\0';
    return out;
}

/* ---- top-level keys ----------------------------------------------------- */

static const char *const root_keys[] = {"$schema",    "study",     "storage",      "seed",
                                        "n_trials",   "timeout_s", "sampler",      "pruner",
                                        "objectives", "trial",     "search_space", NULL};
static const char *const objective_keys[] = {"name", "direction", NULL};

const char *study_key(int i)
{
    static const char *const objective_paths[] = {"objectives[].name", "objectives[].direction"};
    int n_root = (int)(sizeof root_keys / sizeof root_keys[0]) - 1;
    if (i < 0)
        return NULL;
    if (i < n_root)
        return root_keys[i];
    if (i < n_root + 2)
        return objective_paths[i - n_root];
    return study_param_key(i - n_root - 2);
}

static pt_status get_string(const study_ctx *x, const cJSON *root, const char *key, char *dst,
                            size_t cap, int *given)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    *given = v != NULL;
    if (!v)
        return PT_OK;
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= cap) {
        char what[64];
        snprintf(what, sizeof what, "a string of 1 to %zu bytes", cap - 1);
        return study_expected(x, key, what, v);
    }
    memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
    return PT_OK;
}

static int is_integral(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
}

static pt_status parse_budget(const study_ctx *x, study_config *s, const cJSON *root, int *n_given)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "seed");
    s->seed = 1;
    if (v) {
        if (!is_integral(v) || v->valuedouble < 0 || v->valuedouble > SEED_MAX)
            return study_expected(x, "seed", "an integer >= 0 and <= 9007199254740991", v);
        s->seed = (uint64_t)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "timeout_s");
    if (v) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
            return study_expected(x, "timeout_s", "a number >= 0 (0 = no limit)", v);
        s->timeout_s = v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "n_trials");
    *n_given = v != NULL;
    if (v) {
        if (!is_integral(v) || v->valuedouble < 0 || v->valuedouble > N_TRIALS_MAX)
            return study_expected(x, "n_trials", "an integer >= 0 and <= 100000000", v);
        if (v->valuedouble == 0 && s->timeout_s == 0)
            return study_expected(x, "n_trials", "an integer >= 1 when timeout_s is 0", v);
        s->n_trials = (int)v->valuedouble;
    } else {
        s->n_trials = s->timeout_s > 0 ? 0 : N_TRIALS_DEFAULT;
    }
    return PT_OK;
}

static pt_status parse_kinds(const study_ctx *x, study_config *s, const cJSON *root)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "sampler");
    s->sampler = SAMPLER_RANDOM;
    if (v) {
        if (cJSON_IsString(v) && !strcmp(v->valuestring, "random"))
            s->sampler = SAMPLER_RANDOM;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "grid"))
            s->sampler = SAMPLER_GRID;
        else
            return study_expected(x, "sampler", "one of \"random\", \"grid\"", v);
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "pruner");
    s->pruner = PRUNER_NONE;
    if (v && !(cJSON_IsString(v) && !strcmp(v->valuestring, "none")))
        return study_expected(x, "pruner", "\"none\" (no pruner is implemented yet)", v);
    return PT_OK;
}

static int is_metric_name(const char *s)
{
    if (!*s || strlen(s) >= sizeof(((study_objective *)0)->name))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static pt_status parse_objectives(const study_ctx *x, study_config *s, const cJSON *root)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "objectives");
    if (!v) {
        s->n_objectives = 1;
        snprintf(s->obj[0].name, sizeof s->obj[0].name, "val_acc");
        s->obj[0].dir = DIR_MAXIMIZE;
        return PT_OK;
    }
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    if (n < 1 || n > STUDY_MAX_OBJECTIVES)
        return study_expected(x, "objectives", "an array of 1 to 4 objectives", v);
    int i = 0;
    for (const cJSON *o = v->child; o; o = o->next, i++) {
        char path[64], at[80];
        snprintf(path, sizeof path, "objectives[%d]", i);
        if (!cJSON_IsObject(o))
            return study_expected(x, path, "an object {\"name\": ..., \"direction\": ...}", o);
        pt_status st = study_check_members(x, o, path, objective_keys);
        if (st != PT_OK)
            return st;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *dir = cJSON_GetObjectItemCaseSensitive(o, "direction");
        snprintf(at, sizeof at, "%s.name", path);
        if (!cJSON_IsString(name) || !is_metric_name(name->valuestring))
            return study_expected(
                x, at, "a metric of the trial result such as \"val_acc\" (letters, digits, _)",
                name);
        for (int j = 0; j < i; j++)
            if (!strcmp(s->obj[j].name, name->valuestring))
                return study_expected(x, at, "a metric not already an objective", name);
        snprintf(s->obj[i].name, sizeof s->obj[i].name, "%s", name->valuestring);
        snprintf(at, sizeof at, "%s.direction", path);
        if (cJSON_IsString(dir) && !strcmp(dir->valuestring, "minimize"))
            s->obj[i].dir = DIR_MINIMIZE;
        else if (cJSON_IsString(dir) && !strcmp(dir->valuestring, "maximize"))
            s->obj[i].dir = DIR_MAXIMIZE;
        else
            return study_expected(x, at, "one of \"minimize\", \"maximize\"", dir);
    }
    s->n_objectives = n;
    return PT_OK;
}

static pt_status parse_trial(const study_ctx *x, study_config *s, const cJSON *root)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "trial");
    pt_config_defaults(&s->trial);
    if (!v)
        return PT_OK;
    if (!cJSON_IsObject(v))
        return study_expected(x, "trial", "an object (a train config)", v);
    char *text = cJSON_PrintUnformatted(v);
    if (!text)
        return pt_fail(x->err, PT_ERR_NOMEM, "%s: out of memory", x->src);
    pt_err inner;
    pt_status st = pt_config_parse(&s->trial, text, STUDY_INNER_SRC, &inner);
    cJSON_free(text);
    return st == PT_OK ? PT_OK : study_reframe(x, "trial", NULL, &inner, st);
}

static pt_status parse_root(const study_ctx *x, study_config *s, const cJSON *root)
{
    if (!cJSON_IsObject(root))
        return study_expected(x, "", "an object at the top level", root);
    pt_status st = study_check_members(x, root, "", root_keys);
    if (st != PT_OK)
        return st;
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "$schema");
    if (schema && !cJSON_IsString(schema))
        return study_expected(x, "$schema", "a string", schema);
    int given, n_given;
    if ((st = get_string(x, root, "study", s->name, sizeof s->name, &given)) != PT_OK)
        return st;
    if (!given)
        return study_expected(x, "study", "the study's name, a string of 1 to 127 bytes", NULL);
    if ((st = get_string(x, root, "storage", s->storage, sizeof s->storage, &given)) != PT_OK)
        return st;
    if (!given)
        snprintf(s->storage, sizeof s->storage, "%s.db", s->name);
    if ((st = parse_budget(x, s, root, &n_given)) != PT_OK ||
        (st = parse_kinds(x, s, root)) != PT_OK || (st = parse_objectives(x, s, root)) != PT_OK ||
        (st = parse_trial(x, s, root)) != PT_OK)
        return st;
    const cJSON *space = cJSON_GetObjectItemCaseSensitive(root, "search_space");
    if ((st = study_parse_space(x, s, space)) != PT_OK)
        return st;
    if (s->sampler == SAMPLER_GRID && !n_given)
        s->n_trials = (int)study_grid_effective_size(s);
    s->space_json = study_space_canonical(s);
    if (!s->space_json)
        return pt_fail(x->err, PT_ERR_NOMEM, "%s: out of memory", x->src);
    return PT_OK;
}

static pt_status syntax_error(pt_err *err, const char *src, const char *text, const char *at)
{
    int line = 1, col = 1;
    for (const char *p = text; p < at && *p; p++)
        col = *p == '\n' ? (line++, 1) : col + 1;
    return pt_fail(err, PT_ERR_CONFIG, "%s: invalid JSON near line %d, column %d", src, line, col);
}

pt_status study_parse(study_config *s, const char *json, const char *source, pt_err *err)
{
    if (!s || !json)
        return pt_fail(err, PT_ERR_ARG, "study_parse: NULL study or text");
    memset(s, 0, sizeof *s);
    if (!source)
        source = "study";
    const char *end = json;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root)
        return syntax_error(err, source, json, end ? end : json);
    study_ctx x = {source, err};
    pt_status st = parse_root(&x, s, root);
    cJSON_Delete(root);
    if (st != PT_OK)
        study_free(s);
    return st;
}

pt_status study_load(study_config *s, const char *path, pt_err *err)
{
    if (!s || !path)
        return pt_fail(err, PT_ERR_ARG, "study_load: NULL study or path");
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f)
        return pt_fail(err, PT_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    /* Up to a NUL byte (normally the end): a NUL would silently end the text
     * for cJSON, so it is reported as the syntax error it is. */
    char *text = NULL;
    size_t cap = 0;
    ssize_t len = getdelim(&text, &cap, '\0', f);
    int read_errno = errno, failed = len < 0 && !feof(f);
    fclose(f);
    pt_status st;
    if (failed)
        st = pt_fail(err, read_errno == ENOMEM ? PT_ERR_NOMEM : PT_ERR_IO, "%s: cannot read: %s",
                     path, strerror(read_errno));
    else if (len > 0 && text[len - 1] == '\0')
        st = syntax_error(err, path, text, text + len - 1);
    else
        st = study_parse(s, len > 0 ? text : "", path, err);
    free(text);
    return st;
}

void study_free(study_config *s)
{
    if (!s)
        return;
    free(s->space_json);
    memset(s, 0, sizeof *s);
}

/* ---- trials ------------------------------------------------------------- */

/* The object of root that holds key path `path`, creating its sections. */
static cJSON *parent_of(cJSON *root, const char *path, const char **name)
{
    cJSON *obj = root;
    const char *dot;
    while (obj && (dot = strchr(path, '.')) != NULL) {
        char sec[64];
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - path), path);
        cJSON *child = cJSON_GetObjectItemCaseSensitive(obj, sec);
        obj = child ? child : cJSON_AddObjectToObject(obj, sec);
        path = dot + 1;
    }
    *name = path;
    return obj;
}

pt_status study_trial_config(const study_config *s, const study_point *p, pt_config *out,
                             pt_err *err)
{
    if (!s || !p || !out)
        return pt_fail(err, PT_ERR_ARG, "study_trial_config: NULL argument");
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    for (int i = 0; ok && i < s->n_params; i++) {
        const study_param *q = &s->param[i];
        if (!p->present[i])
            continue;
        char num[40];
        const char *text = num;
        if (q->kind == PARAM_CAT) {
            int c = (int)p->value[i];
            if (c < 0 || c >= q->n_choices) {
                cJSON_Delete(root);
                return pt_fail(err, PT_ERR_ARG, "%s: choice %d out of range", q->name, c);
            }
            text = q->choices[c];
        } else if (q->kind == PARAM_INT) {
            snprintf(num, sizeof num, "%.0f", p->value[i]);
        } else {
            study_fmt_double(num, sizeof num, p->value[i]);
        }
        const char *name;
        cJSON *parent = parent_of(root, q->name, &name);
        cJSON *v = parent ? cJSON_CreateRaw(text) : NULL;
        ok = v && cJSON_AddItemToObject(parent, name, v);
        if (!ok)
            cJSON_Delete(v);
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json)
        return pt_fail(err, PT_ERR_NOMEM, "study_trial_config: out of memory");
    pt_config c = s->trial;
    pt_status st = pt_config_merge(&c, json, "trial", err);
    cJSON_free(json);
    if (st == PT_OK)
        *out = c;
    return st;
}
