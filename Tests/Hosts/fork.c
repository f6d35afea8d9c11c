/* fork MODEL.dsm
 *
 * A host that forks after using the library, as Python's multiprocessing
 * does with its "fork" start method: the parent classifies a batch (which
 * starts the library's worker threads), then forks children, some while
 * another of its threads is in the middle of a batch. Each child classifies
 * the same batch and single images with the model loaded before the fork
 * and must get the parent's answers. A child that hangs is stopped by
 * alarm() after 30 s and counts as a failure.
 * Prints one line per failure and "forks ok N" at the end; exit status 1 on
 * any failure. */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "deepscratch.h"

#define IMAGES 600
#define FORKS 12

static ds_model *model;
static float *pixels;
static size_t size;
static int expected[IMAGES];
static volatile int stop_busy;

/* A deterministic set of test images: strokes of varying length and place. */
static void make_images(void) {
    for (size_t i = 0; i < IMAGES; i++) {
        float *p = pixels + i * size;
        memset(p, 0, size * sizeof *p);
        size_t side = 28, x = 4 + i % 20, len = 6 + i % 15;
        for (size_t r = 4; r < 4 + len && r < side; r++) p[r * side + x] = 1.0f;
        for (size_t c = 4; c < 4 + (i / 20) % 18 && c < side; c++) p[(4 + i % 10) * side + c] = 0.8f;
    }
}

/* Keeps the parent's library busy with batches while the main thread forks. */
static void *busy(void *arg) {
    (void)arg;
    int *classes = malloc(IMAGES * sizeof *classes);
    while (classes && !stop_busy) {
        if (ds_classify_batch(model, pixels, IMAGES, size, NULL, 0, classes) != DS_OK) break;
    }
    free(classes);
    return NULL;
}

/* What a child does: returns 0 if every answer equals the parent's. */
static int child(void) {
    alarm(30);
    int *classes = malloc(IMAGES * sizeof *classes);
    if (!classes) return 3;
    if (ds_classify_batch(model, pixels, IMAGES, size, NULL, 0, classes) != DS_OK) {
        fprintf(stderr, "child batch: %s\n", ds_last_error());
        return 4;
    }
    for (int i = 0; i < IMAGES; i++) {
        int k = -1;
        if (classes[i] != expected[i]) return 5;
        if (i % 50 == 0 && (ds_classify(model, pixels + (size_t)i * size, size, NULL, 0, &k) != DS_OK || k != expected[i]))
            return 6;
    }
    /* The threads setting works in the child too. */
    if (ds_set_threads(2) != DS_OK || ds_classify_batch(model, pixels, IMAGES, size, NULL, 0, classes) != DS_OK) return 7;
    for (int i = 0; i < IMAGES; i++) if (classes[i] != expected[i]) return 8;
    free(classes);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.dsm\n", argv[0]);
        return 2;
    }
    if (ds_model_load(argv[1], &model) != DS_OK || ds_model_input_size(model, &size) != DS_OK || size != 784) {
        fprintf(stderr, "%s: %s\n", argv[1], ds_last_error());
        return 2;
    }
    pixels = malloc(IMAGES * size * sizeof *pixels);
    if (!pixels) return 2;
    make_images();
    if (ds_classify_batch(model, pixels, IMAGES, size, NULL, 0, expected) != DS_OK) {
        fprintf(stderr, "parent batch: %s\n", ds_last_error());
        return 1;
    }
    int failures = 0;
    for (int f = 0; f < FORKS; f++) {
        /* The second half forks while another thread runs batches. */
        pthread_t thread;
        int threaded = f >= FORKS / 2 && pthread_create(&thread, NULL, busy, NULL) == 0;
        if (threaded) usleep(1000 * (f % 5));
        pid_t pid = fork();
        if (pid == 0) _exit(child());
        if (threaded) {
            stop_busy = 1;
            pthread_join(thread, NULL);
            stop_busy = 0;
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) != pid) {
            printf("fork %d: fork or waitpid failed\n", f);
            failures++;
        } else if (WIFSIGNALED(status)) {
            printf("fork %d%s: child killed by signal %d%s\n", f, threaded ? " (busy parent)" : "", WTERMSIG(status),
                   WTERMSIG(status) == SIGALRM ? " (hung for 30 s)" : "");
            failures++;
        } else if (WEXITSTATUS(status) != 0) {
            printf("fork %d%s: child exit status %d\n", f, threaded ? " (busy parent)" : "", WEXITSTATUS(status));
            failures++;
        }
    }
    ds_model_free(model);
    free(pixels);
    printf("forks ok %d\n", FORKS - failures);
    return failures ? 1 : 0;
}
