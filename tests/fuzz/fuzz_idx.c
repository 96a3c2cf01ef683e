/*
 * fuzz_idx.c — libFuzzer harness: the IDX loader (plain and gzip), on the
 * images file and the labels file together, as pt_idx_load takes them.
 *
 * Input layout: two bytes (little-endian) give the length of the images
 * file (taken modulo what is left), the images file follows, then the
 * labels file. zlib's gzread passes plain files through and inflates gzip
 * ones, so a fuzzer that finds the gzip magic exercises both paths.
 */
#define _GNU_SOURCE
#include "data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t rest = size - 2, n_img = ((size_t)data[0] | (size_t)data[1] << 8) % (rest + 1);
    char img[64], lab[64];
    int fi = fuzz_memfile(data + 2, n_img, img, sizeof img);
    int fl = fuzz_memfile(data + 2 + n_img, rest - n_img, lab, sizeof lab);
    pt_dataset d;
    pt_err err;
    if (pt_idx_load(img, lab, &d, &err) == PT_OK) {
        /* Every label is a class, every pixel readable. */
        unsigned sum = 0;
        for (size_t i = 0; i < (size_t)d.n * (size_t)d.dim; i++)
            sum += d.x8[i];
        for (int i = 0; i < d.n; i++)
            if (d.y[i] < 0 || d.y[i] >= d.n_classes)
                abort();
        (void)sum;
        pt_dataset_free(&d);
    } else {
        fuzz_check_one_line(err.msg);
    }
    close(fi);
    close(fl);
    return 0;
}
