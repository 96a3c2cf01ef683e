/*
 * onnx.h — a trained (and pruned) network written as an ONNX model, for
 * deployment runtimes (ONNX Runtime, OpenVINO, TensorRT, onnx2torch, ...).
 *
 * Why here: core/ already holds the model I/O (model.h writes .npz) and
 * stays free of MPI and SQL; this writer only adds protobuf-c, so it lives
 * beside model.c but in its own CMake library (ptonnx), and only what
 * exports (the prunetune binary, tests/test_onnx.c) links protobuf-c. The
 * C code for ONNX's messages is generated at build time by protoc-c from
 * ONNX's own onnx.proto (Debian's libonnx-dev), never copied in.
 *
 * The graph (opset 13, IR version 7, so any runtime since ONNX 1.8 loads it):
 *   input "input" float32: [batch, D] for an MLP, [batch, C, H, W] for a
 *     conv net; the raw features, as the data file has them (pixels
 *     0..255): the scaler is the first two nodes,
 *   Sub(input, scale_offset) -> Mul(., scale_mul): the same float32
 *     operations as prunetune's own input scaling, so the first activation
 *     is bit for bit prunetune's (folding the scaler into the first
 *     layer's weights would change their rounding),
 *   per conv layer: Conv (pads, strides, kernel_shape) -> Relu -> MaxPool /
 *     AveragePool (window = stride, floor at the edge) when it pools,
 *   Flatten(axis 1) before the first dense layer of a conv net (NCHW
 *     order, as prunetune's and PyTorch's),
 *   per dense layer: Gemm(a, W, b, transB = 1) with W in PyTorch's
 *     nn.Linear layout (n_out, n_in), Relu after every hidden layer,
 *   outputs "logits" [batch, classes] and "probabilities" (Softmax, axis 1).
 * Initializers are named layer{l}.weight / layer{l}.bias (PyTorch's names
 * with the layer index of the weight layers).
 *
 * What is written is the network after pt_net_compact: dead neurons and
 * filters of structured pruning are removed (their constant outputs folded
 * into the next biases), so the ONNX layers are the smaller ones. A weight
 * tensor whose zeros (unstructured pruning) make a COO SparseTensorProto
 * (float values + int64 linear indices, ascending) smaller than the dense
 * tensor is written as that SparseTensorProto, in the sparse_value of a
 * Constant node named like the weight, instead of a dense initializer;
 * biases are always dense. Not in graph.sparse_initializer: ONNX types a
 * sparse initializer as sparse_tensor(float), which Gemm and Conv do not
 * accept, so onnx.checker's full check (type inference) rejects such a
 * graph; Constant(sparse_value) is ONNX's own sparse-to-dense operator.
 * Runtimes densify it at load, so the saving is in the file, not in the
 * runtime's FLOPs.
 *
 * metadata_props (strings): prunetune.config (the resolved trial config,
 * JSON), prunetune.classes (JSON array of class names, absent for numeric
 * labels), prunetune.test_acc, prunetune.n_test (what training measured),
 * prunetune.sizes (the compacted layer widths, JSON).
 *
 * The compacted network computes the same logits as the trained one up to
 * the float rounding of its folded biases; the scaling and every other
 * operation is the one prunetune runs, so an ONNX evaluation reproduces the
 * training-time test accuracy exactly or but for a near-tie
 * (tests/onnx_check.py).
 *
 * Errors (one line, starting with the file name): PT_ERR_IO when the file
 * cannot be written (nothing is left behind: it is written to PATH.tmp and
 * renamed), PT_ERR_ARG when the scaler does not fit the network, PT_ERR_NOMEM.
 */
#ifndef PT_ONNX_H
#define PT_ONNX_H

#include "config.h"
#include "data.h"
#include "net.h"
#include "model.h"
#include "status.h"

#define PT_ONNX_OPSET 13
#define PT_ONNX_IR_VERSION 7

/* What the export wrote, against the same network stored dense and against
 * the network before compaction. FLOPs are per sample, 2 per multiply-add
 * of the weight layers (as infer.h's flops_per_sample_dense). */
typedef struct {
    long bytes;          /* the file */
    long bytes_dense;    /* the same (compacted) graph with every weight dense */
    long bytes_unpruned; /* the trained network's full size, uncompacted and
                            dense: what a dense export of it weighs */
    int n_weights;       /* weight tensors */
    int n_sparse;        /* of which written as sparse_initializer */
    long weights;        /* weights in the written graph (zeros included) */
    long nnz;            /* of which nonzero */
    long flops;          /* the written graph as a runtime runs it (dense) */
    long flops_nnz;      /* counting nonzero weights only (a sparse kernel) */
    long flops_unpruned; /* the uncompacted network, dense */
    int n_layers;
    int sizes[PT_NET_MAX_LAYERS + 1];    /* widths of the written graph */
    int sizes_in[PT_NET_MAX_LAYERS + 1]; /* and of the trained network */
} pt_onnx_stats;

/* Writes net (compacted, see above) with the scaler it was trained with to
 * path as ONNX; cfg and info go to metadata_props. net is not modified.
 * stats (may be NULL) receives the sizes. */
pt_status pt_onnx_save(const char *path, const pt_net *net, const pt_scaler *sc,
                       const pt_config *cfg, const pt_model_info *info, pt_onnx_stats *stats,
                       pt_err *err);

/* The "model.onnx: N bytes ..." summary of stats (one line, no newline). */
void pt_onnx_stats_line(const char *path, const pt_onnx_stats *s, char *buf, size_t cap);

#endif
