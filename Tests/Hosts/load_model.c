/* load_model MODEL.dsm
 *
 * Loads a model file through the C ABI twice, from memory
 * (ds_model_load_memory) and by path (ds_model_load), prints each status
 * and message and, for a model that loads, the status of one ds_classify
 * and of a 3-image ds_classify_batch on blank images. Exit status: the
 * load's status when both loads agree and failed cleanly (3 for
 * DS_ERR_BAD_MODEL), 0 when both loaded, 100 when they disagree, 101 when a
 * failed load touched its output. A host's view of a hostile file: it must
 * exit normally, never by a signal. */
#include <stdio.h>
#include <stdlib.h>
#include "deepscratch.h"

static int report(const char *how, ds_status status, ds_model *model) {
    printf("%s %s %s\n", how, ds_status_name(status), status == DS_OK ? "" : ds_last_error());
    if (status != DS_OK) return model == NULL ? (int)status : 101;
    size_t inputs = 0, classes = 0;
    ds_model_input_size(model, &inputs);
    ds_model_class_count(model, &classes);
    float *pixels = calloc(3 * inputs + 1, sizeof *pixels), *p = calloc(3 * classes + 1, sizeof *p);
    int k[3] = { -1, -1, -1 };
    if (pixels != NULL && p != NULL) {
        ds_status one = ds_classify(model, pixels, inputs, p, classes, k);
        printf("%s classify %s\n", how, ds_status_name(one));
        ds_status batch = ds_classify_batch(model, pixels, 3, inputs, p, 3 * classes, k);
        printf("%s batch %s\n", how, ds_status_name(batch));
    }
    free(pixels);
    free(p);
    ds_model_free(model);
    return DS_OK;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) return 3;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *bytes = malloc((size_t)size + 1);
    if (bytes == NULL || fread(bytes, 1, (size_t)size, f) != (size_t)size) return 4;
    fclose(f);
    ds_model *from_memory = NULL, *from_path = NULL;
    ds_status memory = ds_model_load_memory(bytes, (size_t)size, &from_memory);
    int a = report("memory", memory, from_memory);
    ds_status path = ds_model_load(argv[1], &from_path);
    int b = report("path", path, from_path);
    free(bytes);
    return a == b ? a : 100;
}
