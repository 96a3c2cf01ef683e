/* result.c — the final metrics object shared by `prunetune train` and the workers. */
#include "result.h"

#include <math.h>
#include <string.h>

#include "infer.h"
#include "sysinfo.h"

void pt_json_add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

cJSON *pt_result_json(const pt_config *cfg, const pt_net *net, const pt_train_result *r,
                      pt_status st, const pt_err *err)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "status", st == PT_OK ? "ok" : "failed");
    if (st != PT_OK)
        cJSON_AddStringToObject(o, "reason", err->msg);
    pt_json_add_num(o, "val_acc", r->val_acc);
    pt_json_add_num(o, "test_acc", r->test_acc);
    pt_json_add_num(o, "loss", r->loss);
    pt_json_add_num(o, "val_loss", r->val_loss);
    pt_json_add_num(o, "test_loss", r->test_loss);
    cJSON_AddNumberToObject(o, "epochs", r->epochs);
    pt_json_add_num(o, "train_samples_per_s", r->train_samples_per_s);
    pt_json_add_num(o, "train_s", r->train_s);
    cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)pt_peak_rss_bytes());
    pt_json_add_num(o, "wall_s", r->wall_s);
    pt_json_add_num(o, "eval_s", r->eval_s);
    pt_json_add_num(o, "prune_s", r->prune_s);
    cJSON_AddNumberToObject(o, "seed", (double)cfg->seed);
    long np = 0;
    for (int l = 0; l < net->n_layers; l++)
        np += (long)net->layer[l].n_out * (net->layer[l].n_in + 1);
    cJSON_AddNumberToObject(o, "params", (double)np);
    pt_json_add_num(o, "sparsity", r->sparsity);
    pt_err cerr; /* size, FLOPs and inference latency of the final network */
    if (st == PT_OK && pt_infer_cost_report(net, o, &cerr) != PT_OK)
        cJSON_AddStringToObject(o, "cost_error", cerr.msg);
    return o;
}

static const struct {
    const char *name;
    int kind;
} metrics[] = {
    {"val_acc", PT_METRIC_TRAINED},
    {"test_acc", PT_METRIC_TRAINED},
    {"loss", PT_METRIC_TRAINED},
    {"val_loss", PT_METRIC_TRAINED},
    {"test_loss", PT_METRIC_TRAINED},
    {"epochs", PT_METRIC_TRAINED},
    {"train_samples_per_s", PT_METRIC_TRAINED},
    {"train_s", PT_METRIC_TRAINED},
    {"peak_rss_bytes", PT_METRIC_TRAINED},
    {"wall_s", PT_METRIC_TRAINED},
    {"eval_s", PT_METRIC_TRAINED},
    {"prune_s", PT_METRIC_TRAINED},
    {"seed", PT_METRIC_TRAINED},
    {"params", PT_METRIC_TRAINED},
    {"sparsity", PT_METRIC_TRAINED},
    {"nnz", PT_METRIC_COST},
    {"weights", PT_METRIC_COST},
    {"bytes_dense", PT_METRIC_COST},
    {"bytes_stored", PT_METRIC_COST},
    {"flops_per_sample", PT_METRIC_COST},
    {"flops_per_sample_dense", PT_METRIC_COST},
    {"latency_b1_us", PT_METRIC_COST},
    {"latency_b128_us", PT_METRIC_COST},
    {"dense_latency_b1_us", PT_METRIC_COST},
    {"dense_latency_b128_us", PT_METRIC_COST},
    {"speedup_b1", PT_METRIC_COST},
    {"speedup_b128", PT_METRIC_COST},
};

const char *pt_result_metric_name(int i)
{
    return i >= 0 && i < (int)(sizeof metrics / sizeof metrics[0]) ? metrics[i].name : NULL;
}

int pt_result_metric_kind(const char *name)
{
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
        if (!strcmp(metrics[i].name, name))
            return metrics[i].kind;
    return 0;
}
