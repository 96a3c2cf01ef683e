/*
 * config_fixture.h — what the config tests share (test_config.c for the trial
 * config, test_study.c and test_study_output.c for the study config): reading
 * a file whole, the "$schema" an example names, and the check that a parser's
 * keys and a schema's keys are the same set. Static inline functions: each
 * test program gets its own copy, and the ones a program does not use cost no
 * warning.
 */
#ifndef TEST_CONFIG_FIXTURE_H
#define TEST_CONFIG_FIXTURE_H

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PT_SOURCE_DIR
#error "PT_SOURCE_DIR must name the repository root"
#endif

/* The whole file, NUL-terminated; the caller frees it. */
static inline char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* The example at path (named name in messages) names want as its "$schema",
 * so editors find the real schema. */
static inline void expect_schema_ref(const char *path, const char *name, const char *want)
{
    char *text = read_text(path);
    cJSON *root = cJSON_Parse(text);
    free(text);
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "$schema"));
    cr_expect_str_eq(s ? s : "", want, "%s", name);
    cJSON_Delete(root);
}

/* Every key parser_key(0, 1, ...) lists (up to its NULL) is among the n
 * schema keys, and every schema key is one the parser lists. */
static inline void expect_same_keys(char keys[][64], int n, const char *(*parser_key)(int))
{
    int n_parser = 0;
    for (const char *k; (k = parser_key(n_parser)) != NULL; n_parser++) {
        int found = 0;
        for (int i = 0; i < n; i++)
            found |= !strcmp(keys[i], k);
        cr_expect(found, "parser key %s is not in the schema", k);
    }
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; parser_key(j); j++)
            found |= !strcmp(keys[i], parser_key(j));
        cr_expect(found, "schema key %s is not accepted by the parser", keys[i]);
    }
    cr_expect_eq(n, n_parser);
}

#endif
