/*
 * fuzz_study.c — libFuzzer harness: the study config parser (the JSON of
 * `prunetune run STUDY`: search space, conditions, sampler and pruner
 * options, the base trial config).
 *
 * The input is the JSON text. A study the parser accepts is used the way
 * the coordinator starts one: every parameter's Optuna distribution JSON is
 * written, the grid size computed, a sampler asks for two points and each
 * point becomes a trial config (valid, or rejected with one line).
 */
#define _GNU_SOURCE
#include "fuzz_util.h"
#include "sampler.h"
#include "study.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    study_config s;
    pt_err err;
    pt_status st = study_parse(&s, text, "fuzz.json", &err);
    free(text);
    if (st != PT_OK) {
        fuzz_check_one_line(err.msg);
        return 0;
    }
    char buf[4096];
    for (int i = 0; i < s.n_params; i++)
        study_distribution_json(&s.param[i], buf, sizeof buf);
    (void)study_grid_size(&s);
    sampler *sm = NULL;
    if (sampler_new(&sm, &s, &err) == PT_OK) {
        for (int k = 0; k < 2; k++) {
            study_point p;
            if (sampler_ask(sm, k, &p, &err) != PT_OK) {
                fuzz_check_one_line(err.msg);
                break;
            }
            pt_config c;
            if (study_trial_config(&s, &p, &c, &err) != PT_OK)
                fuzz_check_one_line(err.msg);
        }
        sampler_free(sm);
    } else {
        fuzz_check_one_line(err.msg);
    }
    study_free(&s);
    return 0;
}
