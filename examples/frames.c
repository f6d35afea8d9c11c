/* frames MODEL.dsm IMAGE.png ...
 *
 * Camera frames in memory (since 1.2): the PNGs are classified in one call
 * across the library's threads (ds_classify_png_files); then, for each, the
 * model-input image the library makes of it (ds_preprocess_png_file) is
 * painted, enlarged, into
 * RGBA frames as a camera or a canvas would hold them -- dark ink on an
 * unevenly lit, tinted page, and light ink on a dark board, with rows padded
 * -- and each frame is classified from its pixels (ds_classify_pixels).
 * Prints "IMAGE: png LABEL, page LABEL, board LABEL (W x H)" per image. Exit
 * status: 0 if every frame got the PNG's label, 1 if any did not or failed,
 * 2 for bad usage or a model that does not load. Uses only deepscratch.h. */
#include <stdio.h>
#include <stdlib.h>
#include "deepscratch.h"

/* An RGBA frame of the model input `x` (side x side values in [0, 1]),
 * enlarged `scale` times, `margin` pixels of page around it; `dark_ink`:
 * dark ink on a light page, else light ink on a dark board. */
static unsigned char *paint(const float *x, size_t side, size_t scale, size_t margin, int dark_ink,
                            size_t *width, size_t *height, size_t *stride) {
    size_t w = side * scale + 2 * margin + 3, h = side * scale + 2 * margin;
    size_t row = 4 * w + 12; /* padded rows */
    unsigned char *f = malloc(row * h);
    if (f == NULL) return NULL;
    for (size_t y = 0; y < h; y++) {
        for (size_t px = 0; px < w; px++) {
            double ink = 0;
            if (px >= margin && y >= margin && (px - margin) / scale < side && (y - margin) / scale < side)
                ink = x[((y - margin) / scale) * side + (px - margin) / scale];
            double light = 0.75 + 0.15 * (double)(px + y) / (double)(w + h); /* light falls unevenly */
            double level = dark_ink ? light * (1 - 0.8 * ink) : 0.15 + 0.75 * ink;
            unsigned char *p = f + y * row + 4 * px;
            p[0] = (unsigned char)(255 * (level > 0.96 ? 1 : level * 1.04)); /* warm tint */
            p[1] = (unsigned char)(255 * level);
            p[2] = (unsigned char)(255 * level * 0.88);
            p[3] = 255;
        }
    }
    *width = w;
    *height = h;
    *stride = row;
    return f;
}

/* The label of class k, for printing. */
static void label(const ds_model *m, int k, char *buf, size_t cap) {
    size_t n;
    if (ds_model_label(m, (size_t)k, buf, cap, &n) != DS_OK) snprintf(buf, cap, "%d", k);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.dsm IMAGE.png ...\n", argv[0]);
        return 2;
    }
    if (DS_CHECK_VERSION() != DS_OK || ds_version_minor() < 2) {
        fprintf(stderr, "frames: needs libdeepscratch 1.2 or later, this is %s\n", ds_version());
        return 2;
    }
    /* A model from elsewhere: at most 64 MiB, checked before it is read. */
    ds_load_options options;
    ds_load_options_default(&options);
    options.max_model_bytes = (size_t)64 << 20;
    ds_model *m = NULL;
    if (ds_model_load_with_options(argv[1], &options, &m) != DS_OK) {
        fprintf(stderr, "frames: %s\n", ds_last_error());
        return 2;
    }
    size_t h = 0, w = 0, c = 0, classes = 0;
    ds_model_input_shape(m, &h, &w, &c);
    ds_model_class_count(m, &classes);
    size_t n = (size_t)(argc - 2);
    float *x = malloc(h * w * c * sizeof *x), *p = malloc(classes * sizeof *p);
    int *png_classes = malloc(n * sizeof *png_classes);
    ds_status *statuses = malloc(n * sizeof *statuses);
    if (x == NULL || p == NULL || png_classes == NULL || statuses == NULL || h != w || c != 1) {
        fprintf(stderr, "frames: out of memory, or the model does not take square gray images\n");
        return 2;
    }
    int failures = 0;
    if (ds_classify_png_files(m, (const char *const *)(argv + 2), n, NULL, 0, png_classes, statuses) != DS_OK)
        fprintf(stderr, "frames: %s\n", ds_last_error()); /* the first file that failed, and how many did */
    for (int i = 2; i < argc; i++) {
        int from_png = png_classes[i - 2], k[2];
        size_t fw = 0, fh = 0, stride;
        if (statuses[i - 2] != DS_OK) {
            failures++;
            continue;
        }
        if (ds_preprocess_png_file(m, argv[i], x, h * w) != DS_OK) {
            fprintf(stderr, "frames: %s\n", ds_last_error());
            failures++;
            continue;
        }
        int ok = 1;
        for (int dark = 1; dark >= 0; dark--) {
            unsigned char *frame = paint(x, w, 2 + (size_t)i % 4, 4 + (size_t)i % 9, dark, &fw, &fh, &stride);
            if (frame == NULL || ds_classify_pixels(m, frame, fw, fh, stride, DS_PIXELS_RGBA8, p, classes, &k[dark]) != DS_OK) {
                fprintf(stderr, "frames: %s: %s\n", argv[i], frame ? ds_last_error() : "out of memory");
                ok = 0;
                k[dark] = -1;
            }
            free(frame);
        }
        char a[64], b[64], d[64];
        label(m, from_png, a, sizeof a);
        label(m, k[1], b, sizeof b);
        label(m, k[0], d, sizeof d);
        printf("%s: png %s, page %s, board %s (%zux%zu)\n", argv[i], a, k[1] < 0 ? "-" : b, k[0] < 0 ? "-" : d, fw, fh);
        if (!ok || k[0] != from_png || k[1] != from_png) failures++;
    }
    free(x);
    free(p);
    free(png_classes);
    free(statuses);
    ds_model_free(m);
    return failures ? 1 : 0;
}
