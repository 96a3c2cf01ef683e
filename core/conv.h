/*
 * conv.h — forward and backward passes of a conv layer of a pt_net.
 *
 * A conv layer l (net.h: layer[l].kind == PT_LAYER_CONV) runs over chunks
 * of samples (pt_conv_chunk), each as one GEMM (im2col): the patches of the
 * chunk's samples form the (C k k) x (n oh pitch) matrix col[l], so
 * Z = W col is K x (n oh pitch), one channel-major row per filter. That
 * turns LeNet's tiny per-sample products (6 x 25 x 784) into products
 * OpenBLAS runs well, while a chunk's patches still fit in L2. A fused pass then adds the bias,
 * applies ReLU (kept in pre[l] for the backward pass) and pools into act[l+1], which turns the
 * channel-major rows back into the NCHW samples the next layer reads. Backward: unpool + ReLU mask
 * into pre[l] (now dL/dZ) and the bias gradient, dW = dZ col^T, then (not for the first layer) dcol
 * = W^T dZ into col[l] and col2im into delta[l-1], the gradient of the previous output.
 * A stride-1 layer with at most 8 filters skips col[l] and the GEMMs: its
 * taps are summed straight from the padded input (conv.c, "Direct").
 *
 * These functions allocate nothing and cannot fail; n <= m->cap.
 */
#ifndef PT_CONV_H
#define PT_CONV_H

#include "net.h"

/* act[l] (n samples, NCHW) -> act[l+1] (n samples, K x ph x pw each). */
void pt_conv_forward(pt_net *m, int l, int n);

/* After pt_conv_forward(m, l, n) and with delta[l] = dL/d act[l+1]: fills
 * layer l's gw and gb and, when l > 0, delta[l-1] = dL/d act[l]. Overwrites
 * pre[l] and col[l]. Uses layer l's weights before the hook may change them. */
void pt_conv_backward(pt_net *m, int l, int n);

/* Samples per chunk: a conv layer runs im2col + GEMM + pooling over chunks
 * of this many samples, so that one chunk's patches (col[l] holds exactly
 * one chunk) stay in L2 from im2col to GEMM; the backward pass rebuilds
 * them per chunk. pre[l] holds the whole batch, chunk after chunk. */
int pt_conv_chunk(const pt_layer *L, int cap);

#endif
