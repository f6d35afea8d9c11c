/* fuzz_png.c — libFuzzer target for the picture path of libdeepscratch.so:
 * ds_classify_png_memory = PNG decoding (libpng behind the library's own
 * checks), the digit preprocessing (polarity, bounding box, scaling,
 * centering) and the classification, with the shipped model.
 *
 * PNG chunks carry a CRC-32 that libpng checks, so almost every mutation
 * would stop at the first damaged chunk. Each input is therefore tried twice:
 * as it is, and with every complete chunk's CRC recomputed, so the mutation
 * reaches the header checks, the decompression, the pixel conversions and
 * the preprocessing behind them.
 *
 * The model is read once from $DS_FUZZ_MODEL, else from the path compiled in
 * as DS_FUZZ_DEFAULT_MODEL (the repository's Sources/dsc/Resources/default.dsm). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "deepscratch.h"

static ds_model *model;
static size_t classes;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *path = getenv("DS_FUZZ_MODEL");
    if (path == NULL) path = DS_FUZZ_DEFAULT_MODEL;
    if (ds_model_load(path, &model) != DS_OK) {
        fprintf(stderr, "fuzz_png: %s\n", ds_last_error());
        exit(2);
    }
    ds_model_class_count(model, &classes);
    return 0;
}

static void classify(const uint8_t *data, size_t size) {
    float p[64];
    int k = -1;
    ds_status s = ds_classify_png_memory(model, data, size, p, 64, &k);
    if (s == DS_OK) {
        if (k < 0 || (size_t)k >= classes) abort();
        float sum = 0;
        for (size_t i = 0; i < classes; i++) {
            if (!(p[i] >= 0 && p[i] <= 1)) abort(); /* also catches NaN */
            sum += p[i];
        }
        if (sum < 0.99f || sum > 1.01f) abort();
    } else if (s != DS_ERR_BAD_IMAGE || ds_last_error()[0] == 0) {
        abort(); /* bytes in memory can only be a bad image, and say why */
    }
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    classify(data, size);
    if (size > 8) {
        uint8_t *copy = malloc(size);
        memcpy(copy, data, size);
        size_t at = 8; /* after the signature: length, type, data, CRC of type + data */
        while (at + 12 <= size) {
            uint32_t length = be32(copy + at);
            if (length > size - at - 12) break;
            uint32_t crc = (uint32_t)crc32(0, copy + at + 4, (uInt)length + 4);
            for (int i = 0; i < 4; i++) copy[at + 8 + length + i] = (uint8_t)(crc >> (24 - 8 * i));
            at += 12 + length;
        }
        classify(copy, size);
        free(copy);
    }
    return 0;
}
