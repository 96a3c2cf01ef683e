/*
 * sampler_fixture.h — what test_sampler.c and test_tpe.c share on top of
 * study_fixture.h: a study that must parse, and a sampler that must build.
 */
#ifndef TEST_SAMPLER_FIXTURE_H
#define TEST_SAMPLER_FIXTURE_H

#include "sampler.h"
#include "study_fixture.h"

/* Study text with ' for ", parsed; a parse error fails the test. */
static inline void parse_ok(study_config *s, const char *quoted)
{
    pt_err err;
    cr_assert_eq(parse_q(s, quoted, &err), PT_OK, "%s", err.msg);
}

static inline sampler *new_sampler(const study_config *s)
{
    sampler *sm = NULL;
    pt_err err;
    cr_assert_eq(sampler_new(&sm, s, &err), PT_OK, "%s", err.msg);
    return sm;
}

#endif
