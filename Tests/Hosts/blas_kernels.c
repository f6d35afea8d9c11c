/* blas_kernels MODEL.dsm EXPECT
 *
 * What OpenBLAS runs once the library has loaded a model, seen from the
 * host: EXPECT is "wide" (not the oldest x86-64 kernels, "Prescott": the
 * library replaced a fallback choice) or the exact kernel name the host
 * asked for with OPENBLAS_CORETYPE (kept). A batch classifies the same
 * either way as one image at a time. Prints the kernel and "blas kernels ok";
 * exit status 1 on any failure. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"


int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.dsm wide|KERNEL\n", argv[0]);
        return 2;
    }
    char *(*corename)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
    if (!corename) {
        fprintf(stderr, "openblas_get_corename is not in the process\n");
        return 2;
    }
    ds_model *model;
    if (ds_model_load(argv[1], &model) != DS_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], ds_last_error());
        return 2;
    }
    const char *kernel = corename();
    printf("kernel %s\n", kernel);
    if (strcmp(argv[2], "wide") == 0) CHECK(strcasecmp(kernel, "Prescott") != 0);
    else CHECK(strcasecmp(kernel, argv[2]) == 0);

    enum { IMAGES = 300 };
    float *pixels = calloc((size_t)IMAGES * 784, sizeof *pixels);
    int classes[IMAGES], one = -1;
    if (!pixels) return 2;
    for (size_t i = 0; i < IMAGES; i++)
        for (size_t r = 3 + i % 7; r < 24; r++) pixels[i * 784 + r * 28 + 5 + i % 17] = 1.0f;
    CHECK(ds_classify_batch(model, pixels, IMAGES, 784, NULL, 0, classes) == DS_OK);
    int same = 0;
    for (size_t i = 0; i < IMAGES; i++)
        same += ds_classify(model, pixels + i * 784, 784, NULL, 0, &one) == DS_OK && one == classes[i];
    CHECK(same == IMAGES);
    ds_model_free(model);
    free(pixels);
    return finish("blas kernels");
}
