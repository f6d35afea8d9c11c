/* expect_probabilities MODEL.dsm P0 P1 ...
 *
 * Classifies a few pseudo-random images (values in [0.2, 1]) with MODEL,
 * one at a time and as a batch, and checks that every image's class
 * probabilities are P0 P1 ... (within 1e-6): for models whose answer does
 * not depend on the input, such as one whose only weight lies on a
 * convolution tap that sees nothing but padding. Prints the probabilities
 * of the first image and "expected probabilities ok"; exit status 1 on any
 * difference or error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "deepscratch.h"

#define IMAGES 5

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.dsm P0 P1 ...\n", argv[0]);
        return 2;
    }
    ds_model *model;
    size_t inputs = 0, classes = 0;
    if (ds_model_load(argv[1], &model) != DS_OK || ds_model_input_size(model, &inputs) != DS_OK ||
        ds_model_class_count(model, &classes) != DS_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], ds_last_error());
        return 2;
    }
    if (classes != (size_t)(argc - 2)) {
        fprintf(stderr, "the model has %zu classes, %d probabilities given\n", classes, argc - 2);
        return 2;
    }
    float *pixels = malloc(IMAGES * inputs * sizeof *pixels);
    float *single = malloc(classes * sizeof *single), *batch = malloc(IMAGES * classes * sizeof *batch);
    if (!pixels || !single || !batch) return 2;
    unsigned state = 12345;
    for (size_t i = 0; i < IMAGES * inputs; i++) {
        state = state * 1103515245u + 12345u;
        pixels[i] = 0.2f + 0.8f * (float)((state >> 8) & 0xFFFF) / 65535.0f;
    }
    int failures = 0, k;
    int batch_classes[IMAGES];
    if (ds_classify_batch(model, pixels, IMAGES, inputs, batch, IMAGES * classes, batch_classes) != DS_OK) {
        fprintf(stderr, "batch: %s\n", ds_last_error());
        return 1;
    }
    for (int i = 0; i < IMAGES; i++) {
        if (ds_classify(model, pixels + i * inputs, inputs, single, classes, &k) != DS_OK) {
            fprintf(stderr, "image %d: %s\n", i, ds_last_error());
            return 1;
        }
        for (size_t c = 0; c < classes; c++) {
            double want = atof(argv[2 + c]);
            if (fabs(single[c] - want) > 1e-6 || fabs(batch[i * classes + c] - want) > 1e-6) {
                printf("image %d class %zu: single %.6f, batch %.6f, expected %.6f\n", i, c, single[c],
                       batch[i * classes + c], want);
                failures++;
            }
        }
        if (i == 0) {
            for (size_t c = 0; c < classes; c++) printf("%s%.6f", c ? " " : "", single[c]);
            printf("\n");
        }
    }
    ds_model_free(model);
    free(pixels);
    free(single);
    free(batch);
    printf("%s\n", failures ? "expected probabilities failed" : "expected probabilities ok");
    return failures ? 1 : 0;
}
