/* nonfinite MODEL.dsm
 *
 * Pixels that are NaN or infinite: ds_classify and ds_classify_batch refuse
 * them with DS_ERR_INVALID_ARGUMENT, a message naming the pixel (and the
 * image), and outputs left unchanged; finite values outside [0, 1] are
 * classified as given. Prints one line per failed check and "nonfinite ok";
 * exit status 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"


int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.dsm\n", argv[0]);
        return 2;
    }
    ds_model *model;
    size_t n = 0;
    if (ds_model_load(argv[1], &model) != DS_OK || ds_model_input_size(model, &n) != DS_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], ds_last_error());
        return 2;
    }
    float *image = calloc(n, sizeof *image), *batch = calloc(5 * n, sizeof *batch);
    if (!image || !batch) return 2;
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int b = 0; b < 3; b++) {
        float p[10] = {-1};
        int k = -7;
        /* The last pixel too: it lies past the vectorized part of the scan for any size not a multiple of 16. */
        size_t where[2] = {100 % n, n - 1};
        for (int w = 0; w < 2; w++) {
            memset(image, 0, n * sizeof *image);
            image[where[w]] = bad[b];
            CHECK(ds_classify(model, image, n, p, 10, &k) == DS_ERR_INVALID_ARGUMENT);
            char text[64];
            snprintf(text, sizeof text, "pixel %zu ", where[w]);
            CHECK(strstr(ds_last_error(), text) != NULL);
            CHECK(k == -7 && p[0] == -1);
        }
        int classes[5] = {-7, -7, -7, -7, -7};
        memset(batch, 0, 5 * n * sizeof *batch);
        batch[3 * n + 5] = bad[b];
        CHECK(ds_classify_batch(model, batch, 5, n, NULL, 0, classes) == DS_ERR_INVALID_ARGUMENT);
        CHECK(strstr(ds_last_error(), "pixel 5 of image 3") != NULL);
        CHECK(classes[0] == -7 && classes[4] == -7);
    }
    /* Finite values, even outside [0, 1], are classified. */
    int k = -1, classes[5];
    for (size_t i = 0; i < n; i++) image[i] = (i % 3) ? 0.0f : 2.5f;
    CHECK(ds_classify(model, image, n, NULL, 0, &k) == DS_OK && k >= 0);
    for (size_t i = 0; i < 5 * n; i++) batch[i] = (i % 5) ? -0.5f : 1e30f;
    CHECK(ds_classify_batch(model, batch, 5, n, NULL, 0, classes) == DS_OK);
    ds_model_free(model);
    free(image);
    free(batch);
    return finish("nonfinite");
}
