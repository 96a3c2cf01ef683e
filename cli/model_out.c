/*
 * model_out.c — which model format a command writes (--format, else the
 * file's extension) and the ONNX side of writing it: core/onnx.h does the
 * work, this prints what the export saved (file size against the dense
 * tensors and the unpruned network, FLOPs) on stderr.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "onnx.h"

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && !strcmp(s + n - k, tail);
}

int cli_model_format(const char *cmd, const char *path, const char *format)
{
    if (format) {
        if (!strcmp(format, "npz"))
            return CLI_MODEL_NPZ;
        if (!strcmp(format, "onnx"))
            return CLI_MODEL_ONNX;
        fprintf(stderr, "prunetune %s: --format %s: expected npz or onnx\n", cmd, format);
        return -1;
    }
    /* Anything but .onnx stays the .npz it always was. */
    return path && ends_with(path, ".onnx") ? CLI_MODEL_ONNX : CLI_MODEL_NPZ;
}

int cli_save_onnx(const char *cmd, const char *path, const pt_net *net, const pt_scaler *sc,
                  const pt_config *cfg, const pt_model_info *info)
{
    pt_onnx_stats s;
    pt_err err;
    if (pt_onnx_save(path, net, sc, cfg, info, &s, &err) != PT_OK) {
        fprintf(stderr, "prunetune %s: %s\n", cmd, err.msg);
        return PT_EXIT_FAIL;
    }
    char line[1024];
    pt_onnx_stats_line(path, &s, line, sizeof line);
    fprintf(stderr, "%s\n", line);
    return PT_EXIT_OK;
}
