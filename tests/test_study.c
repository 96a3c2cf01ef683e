/*
 * test_study.c — the study config: every kind of bad file with its exact
 * one-line error, the defaults, every key read, the grid budget, and the
 * examples. (What the module writes out: test_study_output.c.)
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allclose.h"
#include "study_fixture.h"

static const struct {
    const char *json, *msg;
} bad[] = {
    {"[1, 2]", "s.json: expected an object at the top level (got [1,2])"},
    {"{'study': 't', " L2 ",}", "s.json: invalid JSON near line 1, column 84"},
    {"{'study': 't', 'smapler': 'grid', " L2 "}",
     "s.json: smapler: unknown key (did you mean 'sampler'?)"},
    {"{'study': 't', 'study': 'u', " L2 "}", "s.json: study: duplicate key"},
    {"{" L2 "}",
     "s.json: study: expected the study's name, a string of 1 to 127 bytes (got missing)"},
    {"{'study': '', " L2 "}", "s.json: study: expected a string of 1 to 127 bytes (got \"\")"},
    {"{'study': 5, " L2 "}", "s.json: study: expected a string of 1 to 127 bytes (got 5)"},
    {"{'study': 't', 'storage': '', " L2 "}",
     "s.json: storage: expected a string of 1 to 1023 bytes (got \"\")"},
    {"{'study': 't', 'confirm': 3, " L2 "}",
     "s.json: confirm: expected an object {\"top\": K, \"seeds\": S} (got 3)"},
    {"{'study': 't', 'confirm': {'top': -1}, " L2 "}",
     "s.json: confirm.top: expected an integer >= 0 and <= 100 (got -1)"},
    {"{'study': 't', 'confirm': {'seeds': 0}, " L2 "}",
     "s.json: confirm.seeds: expected an integer >= 1 and <= 1000 (got 0)"},
    {"{'study': 't', 'confirm': {'seed': 2}, " L2 "}",
     "s.json: confirm.seed: unknown key (did you mean 'seeds'?)"},
    {"{'study': 't', 'seed': -1, " L2 "}",
     "s.json: seed: expected an integer >= 0 and <= 9007199254740991 (got -1)"},
    {"{'study': 't', 'seed': 1.5, " L2 "}",
     "s.json: seed: expected an integer >= 0 and <= 9007199254740991 (got 1.5)"},
    {"{'study': 't', 'n_trials': -1, " L2 "}",
     "s.json: n_trials: expected an integer >= 0 and <= 100000000 (got -1)"},
    {"{'study': 't', 'n_trials': 2.5, " L2 "}",
     "s.json: n_trials: expected an integer >= 0 and <= 100000000 (got 2.5)"},
    {"{'study': 't', 'n_trials': 0, " L2 "}",
     "s.json: n_trials: expected an integer >= 1 when timeout_s is 0 (got 0)"},
    {"{'study': 't', 'max_failures': -1, " L2 "}",
     "s.json: max_failures: expected an integer >= 0 and <= 100000000 (0 = never stop) (got -1)"},
    {"{'study': 't', 'max_failures': true, " L2 "}",
     "s.json: max_failures: expected an integer >= 0 and <= 100000000 (0 = never stop) (got "
     "true)"},
    {"{'study': 't', 'timeout_s': -5, " L2 "}",
     "s.json: timeout_s: expected a number >= 0 (0 = no limit) (got -5)"},
    {"{'study': 't', 'sampler': 'cmaes', " L2 "}",
     "s.json: sampler: expected one of \"random\", \"grid\", \"tpe\", \"pbt\" (got \"cmaes\")"},
    {"{'study': 't', 'sampler': 'tpe', 'tpe': {'gamma': 0}, " L2 "}",
     "s.json: tpe.gamma: expected a number > 0 and <= 1 (got 0)"},
    {"{'study': 't', 'tpe': {'n_ei_candidate': 8}, " L2 "}",
     "s.json: tpe.n_ei_candidate: unknown key (did you mean 'n_ei_candidates'?)"},
    {"{'study': 't', 'pruner': 'hyperband', " L2 "}",
     "s.json: pruner: expected one of \"none\", \"asha\", \"median\" (got \"hyperband\")"},
    {"{'study': 't', 'pruner': 'asha', 'asha': {'reduction_factor': 1}, " L2 "}",
     "s.json: asha.reduction_factor: expected an integer >= 2 and <= 1000 (got 1)"},
    {"{'study': 't', 'pruner': 'asha', 'asha': {'min_resorce': 1}, " L2 "}",
     "s.json: asha.min_resorce: unknown key (did you mean 'min_resource'?)"},
    {"{'study': 't', 'pruner': 'median', 'median': {'n_warmup_steps': 0.5}, " L2 "}",
     "s.json: median.n_warmup_steps: expected an integer >= 0 and <= 100000000 (got 0.5)"},
    {"{'study': 't', 'median': 3, " L2 "}",
     "s.json: median: expected an object of options (got 3)"},
    {"{'study': 't', 'objectives': [], " L2 "}",
     "s.json: objectives: expected an array of 1 to 4 objectives (got [])"},
    {"{'study': 't', 'objectives': {'name': 'val_acc'}, " L2 "}",
     "s.json: objectives: expected an array of 1 to 4 objectives (got {\"name\":\"val_acc\"})"},
    {"{'study': 't', 'objectives': [{'name': 'val_acc', 'direction': 'up'}], " L2 "}",
     "s.json: objectives[0].direction: expected one of \"minimize\", \"maximize\" (got \"up\")"},
    {"{'study': 't', 'objectives': [{'name': 'val_acc'}], " L2 "}",
     "s.json: objectives[0].direction: expected one of \"minimize\", \"maximize\" (got missing)"},
    {"{'study': 't', 'objectives': [{'name': 'val acc', 'direction': 'maximize'}], " L2 "}",
     "s.json: objectives[0].name: expected a metric of the trial result such as \"val_acc\" "
     "(letters, digits, _) (got \"val acc\")"},
    {"{'study': 't', 'objectives': [{'name': 'val_acc', 'direction': 'maximize'}, {'name': "
     "'val_acc', 'direction': 'minimize'}], " L2 "}",
     "s.json: objectives[1].name: expected a metric not already an objective (got \"val_acc\")"},
    {"{'study': 't', 'objectives': [{'name': 'val_acc', 'direction': 'maximize', 'weight': 1}], " L2
     "}",
     "s.json: objectives[0].weight: unknown key"},
    {"{'study': 't', 'objectives': [{'nmae': 'val_acc', 'direction': 'maximize'}], " L2 "}",
     "s.json: objectives[0].nmae: unknown key (did you mean 'name'?)"},
    {"{'study': 't', 'constraints': {'metric': 'sparsity', 'min': 0.9}, " L2 "}",
     "s.json: constraints: expected an array of at most 8 constraints {\"metric\": ..., "
     "\"min\": ...} (got {\"metric\":\"sparsity\",\"min\":0.9})"},
    {"{'study': 't', 'constraints': [{'metric': 'sparsty', 'min': 0.9}], " L2 "}",
     "s.json: constraints[0].metric: expected 'sparsity' or a number of the train result "
     "(sparsity, val_acc, test_acc, nnz, bytes_stored, flops_per_sample, latency_b1_us, ...) "
     "(got \"sparsty\")"},
    {"{'study': 't', 'constraints': [{'metric': 'sparsity'}], " L2 "}",
     "s.json: constraints[0]: expected \"min\" and/or \"max\" besides \"metric\" (got "
     "{\"metric\":\"sparsity\"})"},
    {"{'study': 't', 'constraints': [{'metric': 'sparsity', 'min': '0.9'}], " L2 "}",
     "s.json: constraints[0].min: expected a finite number (got \"0.9\")"},
    {"{'study': 't', 'constraints': [{'metric': 'nnz', 'max': 10}, {'metric': "
     "'latency_b1_us', 'min': 5, 'max': 4}], " L2 "}",
     "s.json: constraints[1].max: expected a number >= min (got 4)"},
    {"{'study': 't', 'constraints': [{'metric': 'sparsity', 'mni': 0.9}], " L2 "}",
     "s.json: constraints[0].mni: unknown key (did you mean 'min'?)"},
    {"{'study': 't', 'trial': 5, " L2 "}",
     "s.json: trial: expected an object (a train config) (got 5)"},
    {"{'study': 't', 'trial': {'train': {'lr': -1}}, " L2 "}",
     "s.json: trial.train.lr: expected a number > 0 and <= 10 (got -1)"},
    {"{'study': 't', 'trial': {'train': {'lrr': 0.1}}, " L2 "}",
     "s.json: trial.train.lrr: unknown key (did you mean 'train.lr'?)"},
    {"{'study': 't', 'trial': {'prune': {'schedule': 'gradual', 'end_epoch': 20}}, " L2 "}",
     "s.json: trial.prune.end_epoch: expected a number <= train.epochs (got 20)"},
    {"{'study': 't', 'trial': {'net': {'hidden': []}, 'prune': {'schedule': 'oneshot', "
     "'granularity': 'neuron'}}, " L2 "}",
     "s.json: trial.prune.granularity: \"neuron\" needs a hidden layer (net.hidden is [])"},
    {"{'study': 't'}", "s.json: search_space: expected an object of 1 to 32 parameters "
                       "{\"train.key\": {\"type\": ...}} (got missing)"},
    {"{'study': 't', 'search_space': {}}", "s.json: search_space: expected an object of 1 to 32 "
                                           "parameters {\"train.key\": {\"type\": ...}} (got {})"},
    {"{'study': 't', 'search_space': []}", "s.json: search_space: expected an object of 1 to 32 "
                                           "parameters {\"train.key\": {\"type\": ...}} (got [])"},
    {"{'study': 't', 'search_space': {'reg.l3': {'type': 'float', 'low': 0, 'high': 1}}}",
     "s.json: search_space.reg.l3: unknown key (did you mean 'reg.l2'?)"},
    {"{'study': 't', 'search_space': {'reg': {'type': 'float', 'low': 0, 'high': 1}}}",
     "s.json: search_space.reg: expected a train config key such as \"reg.l2\" (got \"reg\")"},
    {"{'study': 't', 'search_space': {'$schema': {'type': 'categorical', 'choices': ['a']}}}",
     "s.json: search_space.$schema: expected a train config key such as \"reg.l2\" (got "
     "\"$schema\")"},
    {"{'study': 't', 'search_space': {'lr': {'type': 'float', 'low': 0, 'high': 1}}}",
     "s.json: search_space.lr: unknown key (did you mean 'train.lr'?)"},
    {"{'study': 't', 'search_space': {'reg.l2': 5}}",
     "s.json: search_space.reg.l2: expected an object {\"type\": ..., ...} (got 5)"},
    {"{'study': 't', 'search_space': {'reg.l2': {'low': 0, 'high': 1}}}",
     "s.json: search_space.reg.l2.type: expected one of \"float\", \"int\", \"categorical\" (got "
     "missing)"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'double', 'low': 0, 'high': 1}}}",
     "s.json: search_space.reg.l2.type: expected one of \"float\", \"int\", \"categorical\" (got "
     "\"double\")"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0, 'hihg': 1}}}",
     "s.json: search_space.reg.l2.hihg: unknown key (did you mean 'high'?)"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0, 'high': 1, 'choices': "
     "[1]}}}",
     "s.json: search_space.reg.l2.choices: not a key of a float parameter"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0}}}",
     "s.json: search_space.reg.l2.high: expected a number (got missing)"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': '0', 'high': 1}}}",
     "s.json: search_space.reg.l2.low: expected a number (got \"0\")"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0.5, 'high': 0.1}}}",
     "s.json: search_space.reg.l2.high: must be > low (got 0.1 <= 0.5)"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0.5, 'high': 0.5}}}",
     "s.json: search_space.reg.l2.high: must be > low (got 0.5 <= 0.5)"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0, 'high': 0.1, 'log': "
     "true}}}",
     "s.json: search_space.reg.l2.low: expected a number > 0 when log is true (got 0)"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0.1, 'high': 0.5, 'log': "
     "'yes'}}}",
     "s.json: search_space.reg.l2.log: expected true or false (got \"yes\")"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': -1, 'high': 0.5}}}",
     "s.json: search_space.reg.l2.low: expected a number >= 0 and <= 1 (got -1)"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0.1, 'high': 2}}}",
     "s.json: search_space.reg.l2.high: expected a number >= 0 and <= 1 (got 2)"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0.1, 'high': 0.5, 'step': "
     "0}}}",
     "s.json: search_space.reg.l2.step: expected a number > 0 (got 0)"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0.1, 'high': 0.5, 'step': "
     "0.3}}}",
     "s.json: search_space.reg.l2.step: expected a step that divides high - low (got 0.3)"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0.1, 'high': 0.5, 'step': "
     "0.1, 'log': true}}}",
     "s.json: search_space.reg.l2.step: expected no step when log is true (got 0.1)"},
    {"{'study': 't', 'search_space': {'train.epochs': {'type': 'float', 'low': 1, 'high': 10}}}",
     "s.json: search_space.train.epochs.type: expected \"int\" or \"categorical\" for this key, "
     "which takes integers (got \"float\")"},
    {"{'study': 't', 'search_space': {'train.epochs': {'type': 'int', 'low': 1.5, 'high': 10}}}",
     "s.json: search_space.train.epochs.low: expected an integer (got 1.5)"},
    {"{'study': 't', 'search_space': {'train.epochs': {'type': 'int', 'low': 0, 'high': 10}}}",
     "s.json: search_space.train.epochs.low: expected an integer >= 1 (0 only with net.init) "
     "(got 0)"},
    {"{'study': 't', 'search_space': {'train.epochs': {'type': 'int', 'low': 1, 'high': 10, "
     "'step': 2}}}",
     "s.json: search_space.train.epochs.step: expected a step that divides high - low (got 2)"},
    {"{'study': 't', 'search_space': {'train.epochs': {'type': 'int', 'low': 1, 'high': 9, 'step': "
     "2, 'log': true}}}",
     "s.json: search_space.train.epochs.step: expected 1 (or no step) when log is true (got 2)"},
    {"{'study': 't', 'search_space': {'train.epochs': {'type': 'int', 'low': 0, 'high': 9, 'log': "
     "true}}}",
     "s.json: search_space.train.epochs.low: expected an integer >= 1 when log is true (got 0)"},
    {"{'study': 't', 'search_space': {'train.epochs': {'type': 'int', 'low': 1, 'high': 9, 'grid': "
     "[1, 2]}}}",
     "s.json: search_space.train.epochs.grid: not a key of an int parameter"},
    {"{'study': 't', 'search_space': {'prune.schedule': {'type': 'categorical', 'choices': "
     "['none', 'gradul']}}}",
     "s.json: search_space.prune.schedule.choices[1]: expected one of \"none\", \"oneshot\", "
     "\"iterative\", \"gradual\" (got \"gradul\")"},
    {"{'study': 't', 'search_space': {'prune.schedule': {'type': 'categorical', 'choices': []}}}",
     "s.json: search_space.prune.schedule.choices: expected an array of 1 to 32 choices (got [])"},
    {"{'study': 't', 'search_space': {'prune.schedule': {'type': 'categorical', 'choices': "
     "['none', 'none']}}}",
     "s.json: search_space.prune.schedule.choices[1]: expected a value not already a choice (got "
     "\"none\")"},
    {"{'study': 't', 'search_space': {'prune.schedule': {'type': 'categorical', 'choices': "
     "['none', null]}}}",
     "s.json: search_space.prune.schedule.choices[1]: expected a string, number or boolean of at "
     "most 63 bytes as JSON (got null)"},
    {"{'study': 't', 'search_space': {'prune.schedule': {'type': 'categorical', 'choices': "
     "['none', ['a']]}}}",
     "s.json: search_space.prune.schedule.choices[1]: expected a string, number or boolean of at "
     "most 63 bytes as JSON (got [\"a\"])"},
    {"{'study': 't', 'search_space': {'prune.schedule': {'type': 'categorical', 'choices': "
     "['none', 'gradual'], 'low': 1}}}",
     "s.json: search_space.prune.schedule.low: not a key of a categorical parameter"},
    {"{'study': 't', 'search_space': {'prune.rounds': {'type': 'int', 'low': 1, 'high': 4, 'when': "
     "{'prune.schedule': ['iterative']}}, 'prune.schedule': {'type': 'categorical', 'choices': "
     "['none', 'iterative']}}}",
     "s.json: search_space.prune.rounds.when: expected the name of a parameter listed before this "
     "one (got \"prune.schedule\")"},
    {"{'study': 't', 'search_space': {'prune.schedule': {'type': 'categorical', 'choices': "
     "['none', 'iterative']}, 'prune.rounds': {'type': 'int', 'low': 1, 'high': 4, 'when': "
     "{'prune.schedul': ['iterative']}}}}",
     "s.json: search_space.prune.rounds.when: expected the name of a parameter listed before this "
     "one (got \"prune.schedul\")"},
    {"{'study': 't', 'search_space': {'prune.sparsity': {'type': 'float', 'low': 0.5, 'high': "
     "0.9}, 'prune.rounds': {'type': 'int', 'low': 1, 'high': 4, 'when': {'prune.sparsity': "
     "[0.5]}}}}",
     "s.json: search_space.prune.rounds.when: expected the name of a categorical parameter (got "
     "\"prune.sparsity\")"},
    {"{'study': 't', 'search_space': {'prune.schedule': {'type': 'categorical', 'choices': "
     "['none', 'iterative']}, 'prune.rounds': {'type': 'int', 'low': 1, 'high': 4, 'when': "
     "{'prune.schedule': ['gradual']}}}}",
     "s.json: search_space.prune.rounds.when.prune.schedule[0]: expected one of prune.schedule's "
     "choices (got \"gradual\")"},
    {"{'study': 't', 'search_space': {'prune.schedule': {'type': 'categorical', 'choices': "
     "['none', 'iterative']}, 'prune.rounds': {'type': 'int', 'low': 1, 'high': 4, 'when': "
     "{'prune.schedule': 'iterative'}}}}",
     "s.json: search_space.prune.rounds.when.prune.schedule: expected an array of 1 to 32 of its "
     "choices (got \"iterative\")"},
    {"{'study': 't', 'search_space': {'prune.schedule': {'type': 'categorical', 'choices': "
     "['none', 'iterative']}, 'prune.rounds': {'type': 'int', 'low': 1, 'high': 4, 'when': {}}}}",
     "s.json: search_space.prune.rounds.when: expected an object {\"parameter\": [values]} naming "
     "one parameter (got {})"},
    {"{'study': 't', 'search_space': {'prune.schedule': {'type': 'categorical', 'choices': "
     "['none', 'iterative']}, 'prune.rounds': {'type': 'int', 'low': 1, 'high': 4, 'when': "
     "{'prune.schedule': ['iterative', 'iterative']}}}}",
     "s.json: search_space.prune.rounds.when.prune.schedule[1]: expected a value not already "
     "listed (got \"iterative\")"},
    {"{'study': 't', 'search_space': {'reg.l2': {'type': 'float', 'low': 0, 'high': 1}, 'reg.l2': "
     "{'type': 'float', 'low': 0, 'high': 1}}}",
     "s.json: search_space.reg.l2: duplicate key"},
    {"{'study': 't', 'sampler': 'grid', " L2 "}",
     "s.json: search_space.reg.l2.grid: expected the list of values the grid sampler tries (got "
     "missing)"},
    {"{'study': 't', 'sampler': 'grid', 'search_space': {'reg.l2': {'type': 'float', 'low': 0, "
     "'high': 1, 'grid': [0, 2]}}}",
     "s.json: search_space.reg.l2.grid[1]: expected a number >= 0 and <= 1 (got 2)"},
    {"{'study': 't', 'sampler': 'grid', 'search_space': {'reg.l2': {'type': 'float', 'low': 0, "
     "'high': 1, 'grid': [0.5, 0.5]}}}",
     "s.json: search_space.reg.l2.grid[1]: expected a value not already in the grid (got 0.5)"},
    {"{'study': 't', 'sampler': 'grid', 'search_space': {'reg.l2': {'type': 'float', 'low': 0, "
     "'high': 1, 'grid': []}}}",
     "s.json: search_space.reg.l2.grid: expected an array of 1 to 32 numbers (got [])"},
    {"{'study': 't', 'sampler': 'grid', 'search_space': {'data.limit': {'type': 'int', 'low': 0, "
     "'high': 10000}, 'train.epochs': {'type': 'int', 'low': 1, 'high': 1000}}}",
     "s.json: search_space: expected a grid of at most 1000000 points (got 10001000)"},
    {"{'study': 't', 'trial': {'train': {'epochs': 10}, 'prune': {'schedule': 'gradual', "
     "'end_epoch': 8}}, 'search_space': {'train.epochs': {'type': 'int', 'low': 2, 'high': 10}}}",
     "s.json: search_space.train.epochs.low: prune.end_epoch: expected a number <= train.epochs "
     "(got 8)"},
};

Test(study, bad_configs_report_one_exact_line)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        study_config s;
        pt_err err;
        pt_status st = parse_q(&s, bad[i].json, &err);
        cr_expect_eq(st, PT_ERR_CONFIG, "case %zu: status %d for %s", i, st, bad[i].json);
        cr_expect_str_eq(err.msg, bad[i].msg, "case %zu: %s", i, bad[i].json);
        cr_expect_null(s.space_json, "case %zu: *s not zeroed", i);
        cr_expect_eq(s.n_params, 0, "case %zu: *s not zeroed", i);
    }
}

Test(study, file_errors_name_the_file)
{
    study_config s;
    pt_err err;
    cr_expect_eq(study_load(&s, "/nonexistent/s.json", &err), PT_ERR_IO);
    cr_expect_str_eq(err.msg, "/nonexistent/s.json: cannot read: No such file or directory");
    char path[] = "/tmp/pt_study_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    static const char text[] = "{\"study\": \"t\",\n \"seed\": 1\0}";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    cr_expect_eq(study_load(&s, path, &err), PT_ERR_CONFIG);
    char want[128];
    snprintf(want, sizeof want, "%s: invalid JSON near line 2, column 11", path);
    cr_expect_str_eq(err.msg, want);
    unlink(path);
    cr_expect_eq(study_parse(&s, "", "e.json", &err), PT_ERR_CONFIG);
    cr_expect_str_eq(err.msg, "e.json: invalid JSON near line 1, column 1");
}

Test(study, defaults)
{
    study_config s;
    pt_err err;
    cr_assert_eq(parse_q(&s, "{'study': 'lenet', " L2 "}", &err), PT_OK, "%s", err.msg);
    cr_expect_str_eq(s.name, "lenet");
    cr_expect_str_eq(s.storage, "lenet.db");
    cr_expect_eq(s.seed, 1);
    cr_expect_eq(s.n_trials, 16);
    cr_expect_eq(s.timeout_s, 0);
    cr_expect_eq(s.max_failures, 5);
    cr_expect_eq(s.sampler, SAMPLER_RANDOM);
    cr_expect_eq(s.pruner, PRUNER_NONE);
    cr_expect_eq(s.n_objectives, 1);
    cr_expect_str_eq(s.obj[0].name, "val_acc");
    cr_expect_eq(s.obj[0].dir, DIR_MAXIMIZE);
    pt_config d;
    pt_config_defaults(&d);
    cr_expect(memcmp(&s.trial, &d, sizeof d) == 0, "trial is not the train defaults");
    cr_expect_eq(s.n_params, 1);
    cr_expect_str_eq(s.param[0].name, "reg.l2");
    cr_expect_eq(s.param[0].kind, PARAM_FLOAT);
    cr_expect_eq(s.param[0].cond, -1);
    cr_expect_eq(s.param[0].step, 0);
    cr_expect_eq(s.confirm_top, 0, "no confirmation unless asked");
    study_free(&s);

    /* "confirm": {} is on with the defaults; top 0 is off. */
    cr_assert_eq(parse_q(&s, "{'study': 't', 'confirm': {}, " L2 "}", &err), PT_OK, "%s", err.msg);
    cr_expect_eq(s.confirm_top, 3);
    cr_expect_eq(s.confirm_seeds, 5);
    study_free(&s);
    cr_assert_eq(parse_q(&s, "{'study': 't', 'confirm': {'top': 0, 'seeds': 2}, " L2 "}", &err),
                 PT_OK, "%s", err.msg);
    cr_expect_eq(s.confirm_top, 0);
    cr_expect_eq(s.confirm_seeds, 2);
    study_free(&s);

    /* Only a wall-clock budget: no trial limit. */
    cr_assert_eq(parse_q(&s, "{'study': 't', 'timeout_s': 60, " L2 "}", &err), PT_OK, "%s",
                 err.msg);
    cr_expect_eq(s.n_trials, 0);
    cr_expect_eq(s.timeout_s, 60);
    study_free(&s);
}

Test(study, every_key_is_read)
{
    study_config s;
    pt_err err;
    cr_assert_eq(
        parse_q(&s,
                "{'$schema': 'x', 'study': 's', 'storage': 'd/x.db', 'seed': 9007199254740991,"
                " 'n_trials': 5, 'timeout_s': 2.5, 'sampler': 'grid', 'pruner': 'none',"
                " 'max_failures': 0,"
                " 'objectives': [{'name': 'val_acc', 'direction': 'maximize'},"
                "                {'name': 'sparsity', 'direction': 'minimize'}],"
                " 'trial': {'seed': 7, 'train': {'epochs': 3}, 'net': {'hidden': [32]}},"
                " 'search_space': {"
                "  'prune.schedule': {'type': 'categorical', 'choices': ['none', 'iterative']},"
                "  'prune.rounds': {'type': 'int', 'low': 1, 'high': 7, 'step': 3,"
                "                   'when': {'prune.schedule': ['iterative']}},"
                "  'train.lr': {'type': 'float', 'low': 0.01, 'high': 0.1, 'log': true,"
                "               'grid': [0.01, 0.1]},"
                "  'train.batch_size': {'type': 'int', 'low': 16, 'high': 64, 'log': true}}}",
                &err),
        PT_OK, "%s", err.msg);
    cr_expect_str_eq(s.storage, "d/x.db");
    cr_expect_eq(s.seed, 9007199254740991ULL);
    cr_expect_eq(s.n_trials, 5);
    cr_expect_eq(s.timeout_s, 2.5);
    cr_expect_eq(s.max_failures, 0);
    cr_expect_eq(s.sampler, SAMPLER_GRID);
    cr_expect_eq(s.n_objectives, 2);
    cr_expect_str_eq(s.obj[1].name, "sparsity");
    cr_expect_eq(s.obj[1].dir, DIR_MINIMIZE);
    cr_expect_eq(s.trial.seed, 7);
    cr_expect_eq(s.trial.train.epochs, 3);
    cr_expect_eq(s.trial.net.hidden[0], 32);
    cr_assert_eq(s.n_params, 4);
    const study_param *sched = &s.param[0], *rounds = &s.param[1], *lr = &s.param[2];
    cr_expect_eq(sched->n_choices, 2);
    cr_expect_str_eq(sched->choices[1], "\"iterative\"");
    cr_expect_eq(rounds->kind, PARAM_INT);
    cr_expect_eq(rounds->step, 3);
    cr_expect_eq(rounds->cond, 0);
    cr_expect_eq(rounds->n_when, 1);
    cr_expect_eq(rounds->when[0], 1);
    cr_expect(lr->log);
    cr_expect_eq(lr->n_grid, 2);
    cr_expect_eq(lr->grid[1], 0.1);
    cr_expect(s.param[3].log);
    /* Grid: 2 x 3 x 2 x 49 points, of which "none" x rounds 4 and 7 repeat. */
    cr_expect_eq(study_grid_size(&s), 2 * 3 * 2 * 49);
    study_free(&s);
}

Test(study, grid_budget_defaults_to_the_distinct_points)
{
    study_config s;
    pt_err err;
    cr_assert_eq(
        parse_q(&s,
                "{'study': 't', 'sampler': 'grid', 'search_space': {"
                "  'prune.schedule': {'type': 'categorical', 'choices': ['none', 'iterative']},"
                "  'prune.rounds': {'type': 'int', 'low': 1, 'high': 3,"
                "                   'when': {'prune.schedule': ['iterative']}},"
                "  'train.lr': {'type': 'float', 'low': 0.01, 'high': 0.1, 'grid': [0.01, 0.1]}}}",
                &err),
        PT_OK, "%s", err.msg);
    cr_expect_eq(study_grid_size(&s), 12);
    cr_expect_eq(s.n_trials, 2 + 3 * 2 + 1,
                 "none x 2 lr + iterative x 3 rounds x 2 lr, + the reference trial");
    study_free(&s);
}

/* Loads examples/NAME. */
static void load_example(study_config *s, const char *name)
{
    char path[1024];
    pt_err err;
    snprintf(path, sizeof path, "%s/examples/%s", PT_SOURCE_DIR, name);
    cr_assert_eq(study_load(s, path, &err), PT_OK, "%s", err.msg);
}

Test(study, examples_load)
{
    DIR *dir = opendir(PT_SOURCE_DIR "/examples");
    cr_assert_not_null(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "study_", 6) || len < 5 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        study_config s;
        load_example(&s, e->d_name);
        char path[1024];
        snprintf(path, sizeof path, "%s/examples/%s", PT_SOURCE_DIR, e->d_name);
        expect_schema_ref(path, e->d_name, "../schemas/study.schema.json");
        study_free(&s);
        n++;
    }
    closedir(dir);
    cr_expect_geq(n, 2);

    study_config s;
    load_example(&s, "study_quick.json");
    cr_expect_eq(s.n_trials, 8);
    cr_expect_eq(s.trial.data.limit, 2000);
    cr_expect_eq(s.trial.net.n_hidden, 1);
    cr_expect_eq(s.trial.net.hidden[0], 64);
    study_free(&s);
    /* The real study covers the whole pruning x regularization space. */
    load_example(&s, "study_lenet.json");
    static const char *const want[] = {"prune.schedule",
                                       "prune.granularity",
                                       "prune.sparsity",
                                       "prune.finetune_epochs",
                                       "prune.rounds",
                                       "prune.rewind_epoch",
                                       "prune.start_epoch",
                                       "prune.end_epoch",
                                       "prune.frequency",
                                       "reg.l1",
                                       "reg.l2",
                                       "reg.dropout",
                                       "train.lr",
                                       "train.batch_size"};
    cr_assert_eq(s.n_params, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < s.n_params; i++)
        cr_expect_str_eq(s.param[i].name, want[i]);
    cr_expect_str_eq(s.param[0].choices[1], "\"iterative\"");
    cr_expect_eq(s.param[4].cond, 0, "rounds depend on the schedule");
    cr_expect_eq(s.trial.net.hidden[0], 300);
    cr_expect_eq(s.trial.net.hidden[1], 100);
    study_free(&s);
}

/* "prune.layer_sparsity[k]" parameters search one layer's target each: a
 * trial gets the list, elements a point lacks come from the base trial, and
 * the element form is refused for keys that take no list. */
Test(study, element_parameters_build_per_layer_lists)
{
    study_config s;
    pt_err err;
    const char *space =
        "{'study': 't', 'trial': {'net': {'hidden': [64, 32]}, 'prune': {'schedule': 'oneshot',"
        " 'granularity': 'neuron', 'sparsity': 0.5, 'layer_sparsity': [0.2, 0.3]}},"
        " 'search_space': {'prune.layer_sparsity[1]': {'type': 'float', 'low': 0.1, 'high': 0.9},"
        " 'reg.l2': {'type': 'float', 'low': 0, 'high': 1}}}";
    cr_assert_eq(parse_q(&s, space, &err), PT_OK, "%s", err.msg);
    study_point p = {0};
    p.present[0] = p.present[1] = 1;
    p.value[0] = 0.75;
    p.value[1] = 0.001;
    pt_config c;
    cr_assert_eq(study_trial_config(&s, &p, &c, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(c.prune.layer_sparsity.n, 2);
    /* values through the config text: PT_RTOL_FORMULA (allclose.h) */
    pt_expect_close(c.prune.layer_sparsity.v[0], 0.2, PT_RTOL_FORMULA, 0, "from the base trial");
    pt_expect_close(c.prune.layer_sparsity.v[1], 0.75, PT_RTOL_FORMULA, 0, "from the point");
    pt_expect_close(c.reg.l2, 0.001, PT_RTOL_FORMULA, 0);
    study_free(&s);

    /* No base list: every element must be a parameter. */
    const char *gap =
        "{'study': 't', 'trial': {'net': {'hidden': [64, 32]}, 'prune': {'schedule': 'oneshot',"
        " 'granularity': 'neuron', 'sparsity': 0.5}},"
        " 'search_space': {'prune.layer_sparsity[1]': {'type': 'float', 'low': 0.1, 'high': 0.9}}}";
    cr_assert_eq(parse_q(&s, gap, &err), PT_OK, "%s", err.msg);
    study_point q = {0};
    q.present[0] = 1;
    q.value[0] = 0.5;
    cr_expect_eq(study_trial_config(&s, &q, &c, &err), PT_ERR_CONFIG);
    cr_expect_str_eq(err.msg, "prune.layer_sparsity[0] has no value: make it a parameter too, or "
                              "give trial.prune.layer_sparsity");
    study_free(&s);

    cr_expect_eq(parse_q(&s,
                         "{'study': 't', 'search_space': {'train.lr[0]': {'type': 'float', 'low':"
                         " 0.01, 'high': 0.1}}}",
                         &err),
                 PT_ERR_CONFIG);
    cr_expect_str_eq(err.msg, "s.json: search_space.train.lr[0]: an element KEY[k] needs a key "
                              "that takes one number per layer (such as prune.layer_sparsity) and "
                              "k < 17");
    cr_expect_eq(parse_q(&s,
                         "{'study': 't', 'trial': {'prune': {'schedule': 'oneshot'}}, "
                         "'search_space': {'prune.layer_sparsity[0]': {'type': 'float', 'low': "
                         "0.1, 'high': 1.5}}}",
                         &err),
                 PT_ERR_CONFIG);
    cr_expect_not_null(strstr(err.msg, "search_space.prune.layer_sparsity[0].high"), "%s", err.msg);
}

/* study_probe: the base trial's data, checked before a run touches anything,
 * reported as one line with the study file and the key path. */
Test(study, probe_checks_the_base_trial_data)
{
    study_config s;
    pt_err err;
    char text[1024];
    snprintf(text, sizeof text, "{'study': 't', 'trial': {'data': {'dir': '%s'}}, " L2 "}",
             PT_FASHION_DIR);
    cr_assert_eq(parse_q(&s, text, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(study_probe(&s, "s.json", &err), PT_OK, "%s", err.msg);
    study_free(&s);

    cr_assert_eq(
        parse_q(&s, "{'study': 't', 'trial': {'data': {'dir': '/nonexistent/fm'}}, " L2 "}", &err),
        PT_OK, "%s", err.msg);
    cr_expect_eq(study_probe(&s, "s.json", &err), PT_ERR_CONFIG);
    cr_expect_str_eq(err.msg, "s.json: trial.data.dir: /nonexistent/fm/train-images-idx3-ubyte.gz:"
                              " cannot open: No such file or directory");
    study_free(&s);

    cr_assert_eq(parse_q(&s,
                         "{'study': 't', 'trial': {'data': {'format': 'csv', 'train': "
                         "'/nonexistent/d.csv'}}, " L2 "}",
                         &err),
                 PT_OK, "%s", err.msg);
    cr_expect_eq(study_probe(&s, "s.json", &err), PT_ERR_CONFIG);
    cr_expect_str_eq(err.msg, "s.json: trial.data.train: /nonexistent/d.csv: cannot open: No such"
                              " file or directory");
    study_free(&s);

    /* A space that picks the data folder: the base trial's may be no trial's. */
    snprintf(text, sizeof text,
             "{'study': 't', 'trial': {'data': {'dir': '/nonexistent/fm'}}, 'search_space':"
             " {'data.dir': {'type': 'categorical', 'choices': ['%s']}}}",
             PT_FASHION_DIR);
    cr_assert_eq(parse_q(&s, text, &err), PT_OK, "%s", err.msg);
    cr_expect_eq(study_probe(&s, "s.json", &err), PT_OK, "%s", err.msg);
    study_free(&s);
}
