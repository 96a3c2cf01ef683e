/*
 * jsontext.h — JSON text helpers shared by the config parsers (train config,
 * study config) and the command line, so every error quotes values the same
 * way and every key path maps to the same nested object.
 */
#ifndef PT_JSONTEXT_H
#define PT_JSONTEXT_H

#include <cjson/cJSON.h>
#include <stddef.h>

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

#endif
