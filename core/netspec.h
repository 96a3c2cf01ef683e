/*
 * netspec.h — net.layers: the layer list of a config, parsed, checked,
 * printed, and turned into the weight layers of a pt_net.
 *
 * A list describes the network up to, not including, the output layer,
 * which is always a dense layer with one neuron per class (as with
 * net.hidden). Entries (JSON objects, "type" first by convention):
 *   {"type": "conv2d", "out": K, "kernel": k, "stride": 1, "pad": 0}
 *   {"type": "maxpool" | "avgpool", "size": 2}   window = stride
 *   {"type": "flatten"}
 *   {"type": "dense", "out": N}
 *   {"type": "dropout", "rate": r}
 * ReLU follows every conv2d and dense layer. Rules, checked at parse time
 * with the offending entry named ("net.layers[3]: ..."): every conv2d
 * comes before every dense layer; a pool directly follows a conv2d (at
 * most one per conv2d); flatten, optional and implicit, comes after the
 * last conv2d and before the first dense; dropout directly follows a dense
 * layer. The input's C x H x W is data.shape (default 1 x s x s for s^2
 * features, so IDX images need nothing).
 *
 * An empty list means the MLP of net.hidden; a non-empty list replaces it.
 */
#ifndef PT_NETSPEC_H
#define PT_NETSPEC_H

#include "config.h"
#include "net.h"
#include "status.h"

struct cJSON;

/* Parses the JSON value of net.layers into n. src names the text in errors
 * ("src: net.layers[1].kernel: expected an integer >= 1 (got 0)").
 * PT_ERR_CONFIG on any bad entry; n is then undefined. */
pt_status pt_net_layers_parse(pt_net_config *n, const struct cJSON *v, const char *src,
                              pt_err *err);

/* net.layers as a JSON array that pt_net_layers_parse reads back; NULL when
 * out of memory. */
struct cJSON *pt_net_layers_json(const pt_net_config *n);

/* The hidden weight layers (every layer but the output) of a config's
 * network: returns their count and writes their widths and whether each is
 * a conv layer (either array may be NULL; PT_MAX_LAYERS entries). */
int pt_net_hidden(const pt_net_config *n, int *width, int *is_conv);

/* The weight layers of the config's network for dim input features and
 * n_classes outputs: spec[0..*n_spec) (output last), the input shape, and
 * the dropout rate on each layer's output (drop[l+1] for layer l, drop[0]
 * the input; from net.layers' dropout entries and reg.dropout, see
 * schemas/train.schema.json). PT_ERR_CONFIG when data.shape does not match
 * dim, or no shape is given and dim is not a square. */
pt_status pt_net_specs(const pt_config *c, int dim, int n_classes, int shape[3],
                       pt_layer_spec *spec, int *n_spec, float *drop, pt_err *err);

#endif
