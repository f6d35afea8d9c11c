/* latency MODEL.dsm T10K-IMAGES-IDX3-UBYTE[.gz] [CALLS]
 *
 * Measures classification through the C ABI the way ../shared/peers/infer_peer.py
 * measures ONNX Runtime: the median latency of one image (ds_classify, CALLS
 * calls over the test images, default 10000), and the throughput of batches
 * of 1,000 (ds_classify_batch over all the test images, 10 batches of 1,000
 * for MNIST's 10,000; one warm-up pass, then the median of 7 passes). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>
#include "deepscratch.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.dsm T10K-IMAGES [CALLS]\n", argv[0]);
        return 2;
    }
    int calls = argc > 3 ? atoi(argv[3]) : 10000;
    ds_model *model;
    if (calls < 1 || ds_model_load(argv[1], &model) != DS_OK) {
        fprintf(stderr, "latency: %s\n", ds_last_error());
        return 2;
    }
    size_t size, classes;
    ds_model_input_size(model, &size);
    ds_model_class_count(model, &classes);
    gzFile f = gzopen(argv[2], "rb");
    unsigned char header[16];
    if (f == NULL || gzread(f, header, 16) != 16 || header[2] != 8 || header[3] != 3 ||
        (size_t)header[11] * (size_t)header[15] != size) {
        fprintf(stderr, "latency: %s: not an IDX images file of %zu-pixel images\n", argv[2], size);
        return 2;
    }
    size_t count = ((size_t)header[4] << 24) | ((size_t)header[5] << 16) | ((size_t)header[6] << 8) | header[7];
    size_t batch = 1000;
    if (count > 10000) count = 10000;
    if (count < batch) {
        fprintf(stderr, "latency: %s: %zu images, need at least %zu\n", argv[2], count, batch);
        return 2;
    }
    count -= count % batch;
    unsigned char *bytes = malloc(count * size);
    float *images = malloc(count * size * sizeof *images);
    float *p = malloc(batch * classes * sizeof *p);
    int *k = malloc(batch * sizeof *k);
    if (!bytes || !images || !p || !k) {
        fprintf(stderr, "latency: out of memory\n");
        return 2;
    }
    if (gzread(f, bytes, (unsigned)(count * size)) != (int)(count * size)) {
        fprintf(stderr, "latency: %s: shorter than its header says (%zu images)\n", argv[2], count);
        return 2;
    }
    gzclose(f);
    for (size_t i = 0; i < count * size; i++) images[i] = bytes[i] / 255.0f;

    double *t = malloc((size_t)calls * sizeof *t);
    for (int i = 0; i < calls; i++) {
        double t0 = now();
        ds_classify(model, images + (size_t)(i % (int)count) * size, size, p, classes, k);
        t[i] = now() - t0;
    }
    qsort(t, (size_t)calls, sizeof *t, compare);
    printf("single image: median %.1f us, p90 %.1f us, min %.1f us (%d calls)\n",
           t[calls / 2] * 1e6, t[calls * 9 / 10] * 1e6, t[0] * 1e6, calls);

    enum { passes = 7 };
    double b[passes + 1];
    for (int r = 0; r <= passes; r++) {  /* pass 0 warms up */
        double t0 = now();
        for (size_t i = 0; i < count; i += batch)
            ds_classify_batch(model, images + i * size, batch, size, p, batch * classes, k);
        b[r] = now() - t0;
    }
    qsort(b + 1, passes, sizeof *b, compare);
    printf("batch of %zu: median %.0f images/s (best %.0f; %zu images, median of %d passes)\n", batch,
           (double)count / b[1 + passes / 2], (double)count / b[1], count, passes);
    free(t); free(bytes); free(images); free(p); free(k);
    ds_model_free(model);
    return 0;
}
