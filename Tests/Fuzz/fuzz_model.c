/* fuzz_model.c — libFuzzer target for the model-file reader of
 * libdeepscratch.so (ds_model_load_memory and, for a model that loads,
 * every getter and one classification).
 *
 * Every byte of a .dsm file is covered by an XXH64 checksum, so almost every
 * mutation would stop at the checksum check and the parser behind it would
 * never be reached. Each input is therefore tried twice: as it is (which
 * exercises the header, size and checksum checks), and "fixed up": the
 * declared file size (offset 16) set to the input's size and the checksum
 * (the last 8 bytes) recomputed, so the mutation reaches the section,
 * metadata and tensor parsers and the layer checks. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "deepscratch.h"
#include "xxh64.h"

static void exercise(ds_model *m) {
    size_t inputs = 0, classes = 0, length = 0;
    if (ds_model_input_size(m, &inputs) != DS_OK) abort();
    if (ds_model_class_count(m, &classes) != DS_OK) abort();
    char text[64];
    for (size_t k = 0; k < classes && k < 16; k++)
        if (ds_model_label(m, k, text, sizeof text, &length) != DS_OK) abort();
    if (ds_model_metadata(m, text, sizeof text, &length) != DS_OK) abort();
    /* One classification of a mid-grey image, if the model is small enough
     * to keep the fuzzer fast. */
    if (inputs > 0 && inputs <= 4096 && classes > 0 && classes <= 4096) {
        float *pixels = malloc(inputs * sizeof *pixels);
        float *p = malloc(classes * sizeof *p);
        for (size_t i = 0; i < inputs; i++) pixels[i] = 0.5f;
        int k = -1;
        ds_status s = ds_classify(m, pixels, inputs, p, classes, &k);
        if (s == DS_OK) {
            if (k < 0 || (size_t)k >= classes) abort();
            double sum = 0;
            for (size_t i = 0; i < classes; i++) {
                if (!isfinite(p[i]) || p[i] < 0 || p[i] > 1) abort();
                sum += p[i];
            }
            if (fabs(sum - 1) > 1e-3) abort();
        } else if (s != DS_ERR_INVALID_ARGUMENT || k != -1 || strstr(ds_last_error(), "not finite") == NULL) {
            /* Only a model whose output overflows may fail here, leaving out_class alone. */
            abort();
        }
        free(pixels);
        free(p);
    }
}

static void try_load(const uint8_t *data, size_t size) {
    ds_model *m = NULL;
    ds_status s = ds_model_load_memory(data, size, &m);
    if (s == DS_OK) {
        exercise(m);
        if (ds_model_free(m) != DS_OK) abort();
    } else if (s != DS_ERR_BAD_MODEL || m != NULL || ds_last_error()[0] == 0) {
        /* Bytes in memory can only be a bad model; a failure must leave the
         * output alone and explain itself. */
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_load(data, size);
    if (size >= 40) {
        uint8_t *copy = malloc(size);
        memcpy(copy, data, size);
        for (int i = 0; i < 8; i++) copy[16 + i] = (uint8_t)((uint64_t)size >> (8 * i));
        uint64_t h = xxh64(copy, size - 8);
        for (int i = 0; i < 8; i++) copy[size - 8 + i] = (uint8_t)(h >> (8 * i));
        try_load(copy, size);
        free(copy);
    }
    return 0;
}
