/* fuzz_model.c — libFuzzer target for the model-file reader of
 * libdeepscratch.so (ds_model_load_memory and, for a model that loads,
 * every getter and the classifications of model_checks.h).
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
#include "model_checks.h"

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
