/* png_batch_speed MODEL.dsm REPEATS IMAGE.png ...
 *
 * Times ds_classify_png_files (one call, the library's threads) against a
 * loop of ds_classify_png_file over the same files (each given REPEATS
 * times), with 1 and then 2 library threads, three rounds; prints
 * microseconds per file and loop/batch. Build against the library:
 *
 *   cc -O2 -D_POSIX_C_SOURCE=200809L -Iinclude docs/tools/png_batch_speed.c \
 *      -L.build-lib/release -ldeepscratch -Wl,-rpath,$PWD/.build-lib/release -o /tmp/png_batch_speed
 *   /tmp/png_batch_speed Sources/dsc/Resources/default.dsm 10 Tests/Fixtures/digits-png/[0-9]*.png
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "deepscratch.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    ds_model *m;
    if (argc < 4 || ds_model_load(argv[1], &m) != DS_OK) {
        fprintf(stderr, "usage: %s MODEL.dsm REPEATS IMAGE.png ... (%s)\n", argv[0], ds_last_error());
        return 2;
    }
    int n = (argc - 3) * atoi(argv[2]);
    const char **paths = malloc(n * sizeof *paths);
    int *k = malloc(n * sizeof *k);
    float p[10];
    for (int i = 0; i < n; i++) paths[i] = argv[3 + i % (argc - 3)];
    for (int round = 0; round < 3; round++) {
        for (int threads = 1; threads <= 2; threads++) {
            ds_set_threads(threads);
            double t0 = now();
            for (int i = 0; i < n; i++)
                if (ds_classify_png_file(m, paths[i], p, 10, &k[i]) != DS_OK) return 3;
            double t1 = now();
            if (ds_classify_png_files(m, paths, n, NULL, 0, k, NULL) != DS_OK) return 4;
            double t2 = now();
            printf("threads %d, %d files: loop %.1f us/file, batch %.1f us/file, loop/batch %.2f\n", threads, n,
                   (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6, (t1 - t0) / (t2 - t1));
        }
    }
    ds_model_free(m);
    return 0;
}
