/* classify MODEL.dsm IMAGE.png ...
 *
 * Prints "IMAGE: LABEL (PROBABILITY %)" for each image. Exit status: 0 if
 * every image was classified, 1 if any failed (each failure is reported on
 * stderr and the others still run), 2 for bad usage or a model that does
 * not load. */
#include <stdio.h>
#include <stdlib.h>
#include "deepscratch.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.dsm IMAGE.png ...\n", argv[0]);
        return 2;
    }
    if (DS_CHECK_VERSION() != DS_OK) {
        fprintf(stderr, "classify: %s\n", ds_last_error());
        return 2;
    }
    ds_model *model = NULL;
    if (ds_model_load(argv[1], &model) != DS_OK) {
        fprintf(stderr, "classify: %s\n", ds_last_error());
        return 2;
    }
    size_t classes = 0;
    ds_model_class_count(model, &classes);
    float *p = malloc(classes * sizeof *p);
    if (p == NULL) {
        ds_model_free(model);
        return 2;
    }
    int failures = 0;
    for (int i = 2; i < argc; i++) {
        int k;
        if (ds_classify_png_file(model, argv[i], p, classes, &k) != DS_OK) {
            fprintf(stderr, "classify: %s\n", ds_last_error());
            failures++;
            continue;
        }
        char label[64];
        ds_model_label(model, (size_t)k, label, sizeof label, NULL);
        printf("%s: %s (%.1f %%)\n", argv[i], label, 100.0 * p[k]);
    }
    free(p);
    ds_model_free(model);
    return failures ? 1 : 0;
}
