/*
 * study_fixture.h — what test_study.c and test_study_output.c share on top of
 * config_fixture.h: study text written with ' for " (tables stay readable)
 * and the one-parameter search space most cases need.
 */
#ifndef TEST_STUDY_FIXTURE_H
#define TEST_STUDY_FIXTURE_H

#include "config_fixture.h"
#include "study.h"

/* Study text with ' for " (the table stays readable), parsed as "s.json". */
static inline pt_status parse_q(study_config *s, const char *quoted, pt_err *err)
{
    char *text = strdup(quoted);
    cr_assert_not_null(text);
    for (char *p = text; *p; p++)
        if (*p == '\'')
            *p = '"';
    memset(err, 0, sizeof *err);
    pt_status st = study_parse(s, text, "s.json", err);
    free(text);
    return st;
}

#define L2 "'search_space': {'reg.l2': {'type': 'float', 'low': 0, 'high': 1}}"

#endif
