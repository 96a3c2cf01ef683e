/*
 * fuzz_npz.c — libFuzzer harness: the .npz reader and model loading, i.e.
 * what `prunetune eval` and `export-model` do with a file from anywhere.
 *
 * The input is the file. pt_npz_open must accept it or fail with one line;
 * every array it accepts must be fully readable (its bytes are copied, so
 * ASan sees any pointer past the buffer). pt_model_load then reads it as a
 * model, and a model it accepts is run: a forward pass through pt_evaluate
 * (as eval does) and through the inference engine, so a model whose arrays
 * disagree with its layers is caught where it would hurt.
 */
#define _GNU_SOURCE
#include <cblas.h>
#include <math.h>

#include "fuzz_util.h"
#include "infer.h"
#include "model.h"
#include "npz.h"
#include "train.h"

static void check_arrays(const pt_npz *z)
{
    for (int i = 0; i < z->n; i++) {
        const pt_npy_array *a = &z->arr[i];
        size_t bytes = a->count * pt_dtype_size(a->dtype);
        void *copy = malloc(bytes ? bytes : 1);
        if (!copy)
            abort();
        pt_err err;
        if (pt_npz_get(z, a->name, a->dtype, a->ndim, a->shape, copy, &err) != PT_OK) {
            fprintf(stderr, "fuzz: array %s listed but not gettable: %s\n", a->name, err.msg);
            abort();
        }
        free(copy);
    }
}

/* A small forward pass over rows of zeros and ones. */
static void run_model(pt_model *m)
{
    int dim = m->net.sizes[0], n = 3;
    pt_dataset ds = {.n = n, .dim = dim, .n_classes = m->net.sizes[m->net.n_layers],
                     .lo = NAN, .hi = NAN};
    ds.xf = calloc((size_t)n * (size_t)dim, sizeof(float));
    ds.y = calloc((size_t)n, sizeof(int32_t));
    if (!ds.xf || !ds.y)
        abort();
    for (int j = 0; j < dim; j++)
        ds.xf[(size_t)dim + (size_t)j] = 1.0f;
    double acc, loss;
    pt_evaluate(&m->net, &ds, &m->scaler, NULL, 0, &acc, &loss);
    pt_infer e;
    pt_err err;
    if (pt_infer_build(&e, &m->net, 2, PT_INFER_DENSE, &err) == PT_OK) {
        float *logits = malloc(sizeof(float) * (size_t)n * (size_t)ds.n_classes);
        if (!logits)
            abort();
        pt_infer_run(&e, ds.xf, n, logits);
        free(logits);
        pt_infer_free(&e);
    }
    free(ds.xf);
    free(ds.y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    openblas_set_num_threads(1); /* one core per fuzzer; not an env setting */
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    pt_npz z;
    pt_err err;
    if (pt_npz_open(&z, path, &err) == PT_OK) {
        check_arrays(&z);
        pt_npz_close(&z);
    } else {
        fuzz_check_one_line(err.msg);
    }
    pt_model m;
    if (pt_model_load(&m, path, &err) == PT_OK) {
        run_model(&m);
        pt_model_free(&m);
    } else {
        fuzz_check_one_line(err.msg);
    }
    close(fd);
    return 0;
}
