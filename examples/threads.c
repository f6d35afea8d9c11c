/* threads MODEL.dsm T10K-IMAGES-IDX3-UBYTE[.gz] [THREADS] [ROUNDS]
 *
 * Classifies the MNIST test images once on one thread, then again on
 * THREADS threads (default 8) sharing the one model, ROUNDS times each
 * (default 1), and checks that every answer equals the single-thread one.
 * Prints the number of classifications and mismatches; exit status 1 on any
 * mismatch or error. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "deepscratch.h"

static ds_model *model;
static float *images;
static int *expected;
static size_t count, size;
static int rounds = 1;

typedef struct { int index, threads; long done, mismatches, errors; } job;

static void *work(void *arg) {
    job *j = arg;
    for (int r = 0; r < rounds; r++) {
        for (size_t i = (size_t)j->index; i < count; i += (size_t)j->threads) {
            int k;
            if (ds_classify(model, images + i * size, size, NULL, 0, &k) != DS_OK) {
                j->errors++;
                continue;
            }
            j->done++;
            if (k != expected[i]) j->mismatches++;
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.dsm T10K-IMAGES [THREADS] [ROUNDS]\n", argv[0]);
        return 2;
    }
    int threads = argc > 3 ? atoi(argv[3]) : 8;
    rounds = argc > 4 ? atoi(argv[4]) : 1;
    if (threads < 1 || threads > 1024 || rounds < 1) {
        fprintf(stderr, "threads must be 1..1024, rounds >= 1\n");
        return 2;
    }
    if (ds_model_load(argv[1], &model) != DS_OK) {
        fprintf(stderr, "threads: %s\n", ds_last_error());
        return 2;
    }
    ds_model_input_size(model, &size);

    /* The IDX images file (gzip or raw): magic 00 00 08 03, count, rows, cols. */
    gzFile f = gzopen(argv[2], "rb");
    unsigned char header[16];
    if (f == NULL || gzread(f, header, 16) != 16 || header[2] != 8 || header[3] != 3) {
        fprintf(stderr, "threads: %s: not an IDX images file\n", argv[2]);
        return 2;
    }
    count = (size_t)header[4] << 24 | (size_t)header[5] << 16 | (size_t)header[6] << 8 | header[7];
    size_t rows = (size_t)header[11], cols = (size_t)header[15];
    if (rows * cols != size || count == 0 || count > 1000000) {
        fprintf(stderr, "threads: %s: images do not fit the model\n", argv[2]);
        return 2;
    }
    unsigned char *bytes = malloc(count * size);
    images = malloc(count * size * sizeof *images);
    expected = malloc(count * sizeof *expected);
    if (!bytes || !images || !expected || gzread(f, bytes, (unsigned)(count * size)) != (int)(count * size)) {
        fprintf(stderr, "threads: %s: cannot read the images\n", argv[2]);
        return 2;
    }
    gzclose(f);
    for (size_t i = 0; i < count * size; i++) images[i] = bytes[i] / 255.0f;
    free(bytes);

    /* The single-thread answers. */
    for (size_t i = 0; i < count; i++) {
        if (ds_classify(model, images + i * size, size, NULL, 0, &expected[i]) != DS_OK) {
            fprintf(stderr, "threads: %s\n", ds_last_error());
            return 1;
        }
    }

    pthread_t *ids = malloc((size_t)threads * sizeof *ids);
    job *jobs = calloc((size_t)threads, sizeof *jobs);
    for (int t = 0; t < threads; t++) {
        jobs[t].index = t;
        jobs[t].threads = threads;
        pthread_create(&ids[t], NULL, work, &jobs[t]);
    }
    long done = 0, mismatches = 0, errors = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        done += jobs[t].done;
        mismatches += jobs[t].mismatches;
        errors += jobs[t].errors;
    }
    printf("%d threads, %ld classifications, %ld mismatches, %ld errors\n", threads, done, mismatches, errors);
    free(ids);
    free(jobs);
    free(images);
    free(expected);
    ds_model_free(model);
    return mismatches || errors ? 1 : 0;
}
