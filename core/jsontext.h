/*
 * jsontext.h — JSON text helpers shared by the config parsers (train config,
 * study config) and the command line, so every error quotes values the same
 * way, every syntax error and "did you mean" reads the same, and every key
 * path maps to the same nested object.
 */
#ifndef PT_JSONTEXT_H
#define PT_JSONTEXT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "status.h"

/* The shortest of %.15g, %.16g, %.17g that reads back as v exactly (cJSON
 * would print 2^53 as 9.00719925474099e+15). */
void pt_fmt_double(char *buf, size_t n, double v);

/* v as JSON text for an error's "(got ...)", cut to about 40 characters on a
 * UTF-8 boundary; "missing" when v is NULL. */
void pt_json_got(const cJSON *v, char *buf, size_t n);

/* The object of root that holds the key path "a.b.c" (here a.b), creating
 * missing sections and replacing a non-object in the way; sets *name to the
 * last component (here c). NULL when out of memory. Components longer than
 * 63 bytes are cut. */
cJSON *pt_json_section(cJSON *root, const char *path, const char **name);

/* Parses json (NUL-terminated, nothing but white space after the value) into
 * *root, which the caller frees with cJSON_Delete. On failure *root is NULL
 * and err says "SRC: invalid JSON near line L, column C" (PT_ERR_CONFIG). */
pt_status pt_json_parse(cJSON **root, const char *json, const char *src, pt_err *err);

/* The same PT_ERR_CONFIG line for the byte at of text (lines and columns
 * counted from 1), for what cJSON never sees, such as a NUL byte in a file. */
pt_status pt_json_syntax_error(pt_err *err, const char *src, const char *text, const char *at);

/* Case-insensitive Levenshtein distance of two names, for "did you mean"
 * suggestions; INT_MAX when either is longer than 63 bytes. */
int pt_name_distance(const char *a, const char *b);

/* Reads the JSON file at path into *text (malloc'd, NUL-terminated; the
 * caller frees it). Reading stops at a NUL byte, which would silently end the
 * text for cJSON: it is reported as a syntax error at its line and column.
 * Errors: PT_ERR_IO "path: cannot read: reason", PT_ERR_NOMEM "path: out of
 * memory", PT_ERR_CONFIG for the NUL byte; *text is NULL then. */
pt_status pt_json_read_file(const char *path, char **text, pt_err *err);

#endif
