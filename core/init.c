/*
 * init.c — loading and checking net.init (see init.h).
 *
 * The comparison is on layer specs, not on parameter counts: two networks of
 * different shapes can hold the same number of floats, and a copy between
 * them would train garbage without any error.
 */
#include "init.h"

#include <stdio.h>
#include <string.h>

#include "netspec.h"

static void append(char *buf, size_t cap, const char *text)
{
    size_t used = strlen(buf);
    if (used < cap)
        snprintf(buf + used, cap - used, "%s", text);
}

void pt_init_shape_text(const int shape[3], const pt_layer_spec *spec, int n, int dim, char *buf,
                        size_t cap)
{
    char part[96];
    int conv = n > 0 && spec[0].kind == PT_LAYER_CONV;
    if (conv)
        snprintf(part, sizeof part, "%dx%dx%d", shape[0], shape[1], shape[2]);
    else
        snprintf(part, sizeof part, "%d", dim);
    buf[0] = '\0';
    append(buf, cap, part);
    for (int l = 0; l < n; l++) {
        const pt_layer_spec *s = &spec[l];
        if (s->kind != PT_LAYER_CONV) {
            snprintf(part, sizeof part, "-%d", s->out);
        } else {
            int k = snprintf(part, sizeof part, "-conv%dk%d", s->out, s->k);
            if (s->stride != 1)
                k += snprintf(part + k, sizeof part - (size_t)k, "s%d", s->stride);
            if (s->pad)
                k += snprintf(part + k, sizeof part - (size_t)k, "p%d", s->pad);
            if (s->pool)
                snprintf(part + k, sizeof part - (size_t)k, "/%s%d",
                         s->pool == PT_POOL_MAX ? "max" : "avg", s->ps);
        }
        append(buf, cap, part);
    }
}

static int same_spec(const pt_layer_spec *a, const pt_layer_spec *b)
{
    if (a->kind != b->kind || a->out != b->out)
        return 0;
    if (a->kind != PT_LAYER_CONV)
        return 1;
    /* Without pooling the window size means nothing (1 or a default). */
    return a->k == b->k && a->stride == b->stride && a->pad == b->pad && a->pool == b->pool &&
           (a->pool == PT_POOL_NONE || a->ps == b->ps);
}

pt_status pt_init_check(const pt_model *m, const char *path, const pt_config *cfg, int dim,
                        int n_classes, pt_err *err)
{
    const pt_net *net = &m->net;
    int in = net->sizes[0], out = net->sizes[net->n_layers];
    if (in != dim || out != n_classes)
        return pt_fail(err, PT_ERR_CONFIG,
                       "net.init: %s takes %d features to %d classes, but the data has %d "
                       "features and %d classes",
                       path, in, out, dim, n_classes);
    int shape[3], n_spec;
    pt_layer_spec spec[PT_NET_MAX_LAYERS], have[PT_NET_MAX_LAYERS];
    float drop[PT_NET_MAX_LAYERS + 1];
    pt_err inner;
    if (pt_net_specs(cfg, dim, n_classes, shape, spec, &n_spec, drop, &inner) != PT_OK)
        return pt_fail(err, PT_ERR_CONFIG, "net.init: %s: %s", path, inner.msg);
    for (int l = 0; l < net->n_layers; l++)
        have[l] = pt_layer_spec_of(net, l);
    int same = n_spec == net->n_layers;
    for (int l = 0; same && l < n_spec; l++)
        same = same_spec(&spec[l], &have[l]);
    /* A conv net's input shape matters too: 1x28x28 and 4x14x14 both hold
     * 784 features. */
    if (same && spec[0].kind == PT_LAYER_CONV)
        same = !memcmp(shape, net->shape, sizeof shape);
    if (same)
        return PT_OK;
    char want[512], got[512];
    pt_init_shape_text(net->shape, have, net->n_layers, in, got, sizeof got);
    pt_init_shape_text(shape, spec, n_spec, dim, want, sizeof want);
    return pt_fail(err, PT_ERR_CONFIG, "net.init: %s holds a %s network, but %s describes %s", path,
                   got, cfg->net.n_layers ? "net.layers" : "net.hidden", want);
}

pt_status pt_init_load(pt_model *m, const pt_config *cfg, int dim, int n_classes, pt_err *err)
{
    const char *path = cfg->net.init;
    pt_err inner;
    pt_status st = pt_model_load(m, path, &inner);
    if (st != PT_OK)
        return pt_fail(err, st == PT_ERR_NOMEM ? st : PT_ERR_CONFIG, "net.init: %s", inner.msg);
    st = pt_init_check(m, path, cfg, dim, n_classes, err);
    if (st != PT_OK)
        pt_model_free(m);
    return st;
}
