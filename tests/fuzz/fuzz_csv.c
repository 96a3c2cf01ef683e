/*
 * fuzz_csv.c — libFuzzer harness: the CSV loader.
 *
 * Input layout: the first byte picks the options (header auto/no/yes, the
 * label column by index -1, 0 or 1 or by the name "label", the delimiter
 * ',', ';' or tab), the rest is the file.
 */
#define _GNU_SOURCE
#include "data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned o = data[0];
    pt_csv_opts opts = pt_csv_opts_default();
    opts.header = (int)(o % 3) - 1;
    static const int label_index[4] = {-1, 0, 1, -1};
    opts.label_index = label_index[(o / 3) % 4];
    if ((o / 3) % 4 == 3)
        opts.label_name = "label";
    static const char delim[3] = {',', ';', '\t'};
    opts.delimiter = delim[(o / 12) % 3];
    char path[64];
    int fd = fuzz_memfile(data + 1, size - 1, path, sizeof path);
    pt_dataset d;
    pt_err err;
    if (pt_csv_load(path, &opts, &d, &err) == PT_OK) {
        double sum = 0;
        for (size_t i = 0; i < (size_t)d.n * (size_t)d.dim; i++)
            sum += d.xf[i];
        for (int i = 0; i < d.n; i++)
            if (d.y[i] < 0 || d.y[i] >= d.n_classes)
                abort();
        for (int c = 0; d.class_names && c < d.n_classes; c++)
            sum += (double)strlen(d.class_names[c]);
        (void)sum;
        pt_dataset_free(&d);
    } else {
        fuzz_check_one_line(err.msg);
    }
    close(fd);
    return 0;
}
