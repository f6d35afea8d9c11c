/* model_checks.h — what the model fuzz targets (fuzz_model.c,
 * fuzz_model_struct.c) check for every input: ds_model_load_memory either
 * fails with DS_ERR_BAD_MODEL and a message, or gives a model whose every
 * getter works and whose classifications (single and batch) give a class in
 * range and finite probabilities summing to 1, or fail cleanly with "not
 * finite" leaving their outputs alone. Any other outcome aborts (a crash
 * for libFuzzer). */
#ifndef DS_FUZZ_MODEL_CHECKS_H
#define DS_FUZZ_MODEL_CHECKS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "deepscratch.h"

/* Finite probabilities must lie in [0, 1] and sum to 1. */
static void check_probabilities(const float *p, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(p[i]) || p[i] < 0 || p[i] > 1) abort();
        sum += p[i];
    }
    if (n > 0 && fabs(sum - 1) > 1e-3) abort();
}

/* A classification either succeeds with finite probabilities that sum to 1,
 * or — a model whose weights overflow — fails with DS_ERR_INVALID_ARGUMENT
 * saying the output is not finite. Returns 1 if it succeeded. */
static int classified(ds_status s) {
    if (s == DS_OK) return 1;
    if (s != DS_ERR_INVALID_ARGUMENT || strstr(ds_last_error(), "not finite") == NULL) abort();
    return 0;
}

static void exercise(ds_model *m) {
    size_t inputs = 0, classes = 0, length = 0;
    if (ds_model_input_size(m, &inputs) != DS_OK || inputs == 0) abort();
    if (ds_model_class_count(m, &classes) != DS_OK || classes == 0) abort();
    char text[64];
    for (size_t k = 0; k < classes && k < 16; k++)
        if (ds_model_label(m, k, text, sizeof text, &length) != DS_OK) abort();
    if (ds_model_label(m, classes, text, sizeof text, &length) != DS_ERR_INVALID_ARGUMENT) abort();
    if (ds_model_metadata(m, NULL, 0, &length) != DS_OK) abort();
    char *json = malloc(length + 1);
    if (ds_model_metadata(m, json, length + 1, NULL) != DS_OK || strlen(json) != length || json[0] != '{') abort();
    free(json);
    /* Classify when the images are small enough to keep the fuzzer fast. */
    if (inputs > (1u << 16) || classes > (1u << 16)) return;
    enum { BATCH = 3 };
    float *pixels = malloc(BATCH * inputs * sizeof *pixels);
    float *p = malloc(BATCH * classes * sizeof *p), *one = malloc(classes * sizeof *one);
    for (size_t i = 0; i < BATCH * inputs; i++) pixels[i] = (float)((i * 2654435761u) % 7) / 6;
    int single[BATCH], batch[BATCH], all_single = 1;
    for (int j = 0; j < BATCH; j++) {
        single[j] = -1;
        one[0] = -2;
        if (!classified(ds_classify(m, pixels + j * inputs, inputs, one, classes, &single[j]))) {
            /* A failure leaves the outputs alone. */
            if (single[j] != -1 || one[0] != -2) abort();
            all_single = 0;
            continue;
        }
        if (single[j] < 0 || (size_t)single[j] >= classes) abort();
        check_probabilities(one, classes);
    }
    if (classified(ds_classify_batch(m, pixels, BATCH, inputs, p, BATCH * classes, batch))) {
        for (int j = 0; j < BATCH; j++) {
            if (batch[j] < 0 || (size_t)batch[j] >= classes) abort();
            check_probabilities(p + j * classes, classes);
        }
    } else if (all_single) {
        abort();  /* the batch must not fail where every single image succeeds */
    }
    free(pixels);
    free(p);
    free(one);
}

static void try_load(const uint8_t *data, size_t size) {
    ds_model *m = NULL;
    ds_status s = ds_model_load_memory(data, size, &m);
    if (s == DS_OK) {
        if (m == NULL) abort();
        exercise(m);
        if (ds_model_free(m) != DS_OK) abort();
    } else if (s != DS_ERR_BAD_MODEL || m != NULL || ds_last_error()[0] == 0) {
        abort();
    }
}

#endif
