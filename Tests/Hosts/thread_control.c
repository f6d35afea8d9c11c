/* thread_control MODEL.dsm
 *
 * The host decides the library's threads: ds_set_threads / ds_get_threads /
 * ds_set_spin, checked from outside through what a host can observe — the
 * library's worker threads of its process (named "ds-worker" in
 * /proc/self/task/TID/comm), its CPU time while idle, and
 * OpenBLAS's process-wide thread count — and changed while another thread
 * classifies. Prints one line per failed check and "thread control ok";
 * exit status 1 on any failure. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "check.h"

#define IMAGES 1024


static ds_model *model;
static float *pixels;
static int expected[IMAGES];
static volatile int stop;
static volatile long mismatches, errors, batches;

/* The library's worker threads: the threads of this process named
 * "ds-worker" (OpenBLAS's own threads, which it may start at any call, are
 * not counted). */
static int task_count(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        char path[300], name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(name, sizeof name, f) && strncmp(name, "ds-worker", 9) == 0) n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

static double cpu_seconds(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static int batch_matches(void) {
    static int classes[IMAGES];
    if (ds_classify_batch(model, pixels, IMAGES, 784, NULL, 0, classes) != DS_OK) return 0;
    return memcmp(classes, expected, sizeof expected) == 0;
}

static void *classify_loop(void *arg) {
    (void)arg;
    int *classes = malloc(IMAGES * sizeof *classes);
    while (classes && !stop) {
        if (ds_classify_batch(model, pixels, IMAGES, 784, NULL, 0, classes) != DS_OK) errors++;
        else if (memcmp(classes, expected, IMAGES * sizeof *classes) != 0) mismatches++;
        batches++;
    }
    free(classes);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.dsm\n", argv[0]);
        return 2;
    }
    alarm(120); /* a hang is a failure */
    int (*blas_get)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    void (*blas_set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (!blas_get || !blas_set) {
        fprintf(stderr, "OpenBLAS's thread functions are not in the process\n");
        return 2;
    }
    /* The host's own OpenBLAS setting, which the library must respect. */
    blas_set(3);
    int host_blas = blas_get();
    size_t threads = 0;

    /* 1 thread before anything else: no worker thread, OpenBLAS untouched. */
    CHECK(ds_set_threads(1) == DS_OK);
    CHECK(ds_get_threads(&threads) == DS_OK && threads == 1);
    if (ds_model_load(argv[1], &model) != DS_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], ds_last_error());
        return 2;
    }
    pixels = calloc((size_t)IMAGES * 784, sizeof *pixels);
    if (!pixels) return 2;
    for (size_t i = 0; i < IMAGES; i++)
        for (size_t r = 3 + i % 7; r < 24; r++) pixels[i * 784 + r * 28 + 5 + i % 17] = 1.0f;
    int tasks = task_count();
    CHECK(ds_classify_batch(model, pixels, IMAGES, 784, NULL, 0, expected) == DS_OK);
    CHECK(task_count() == tasks);
    CHECK(blas_get() == host_blas);

    /* 3 threads: two workers; OpenBLAS single-threaded under them (documented). */
    CHECK(ds_set_threads(3) == DS_OK);
    CHECK(ds_get_threads(&threads) == DS_OK && threads == 3);
    CHECK(batch_matches());
    CHECK(task_count() == tasks + 2);
    CHECK(blas_get() == 1);

    /* Back to 1: the workers end, OpenBLAS's setting is the host's again. */
    CHECK(ds_set_threads(1) == DS_OK);
    CHECK(task_count() == tasks);
    CHECK(blas_get() == host_blas);
    CHECK(batch_matches());

    /* 0 = one per CPU. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(ds_set_threads(0) == DS_OK);
    CHECK(ds_get_threads(&threads) == DS_OK && (long)threads == (cpus < 1 ? 1 : cpus));

    /* Idle workers sleep: with no spinning, idle time costs no CPU. (First
     * a pause, so that OpenBLAS's own threads, busy in the one-thread
     * batches above, reach their own sleep: they are not the library's.) */
    CHECK(ds_set_spin(0) == DS_OK);
    CHECK(ds_set_threads(2) == DS_OK);
    usleep(500000);
    CHECK(batch_matches());
    double before = cpu_seconds();
    usleep(500000);
    double idle = cpu_seconds() - before;
    CHECK(idle < 0.05);
    printf("cpu while idle 0.5 s with 2 threads: %.4f s\n", idle);
    CHECK(ds_set_spin(50) == DS_OK);

    /* Bad arguments. */
    CHECK(ds_set_threads(100000) == DS_ERR_INVALID_ARGUMENT && strstr(ds_last_error(), "100000") != NULL);
    CHECK(ds_set_threads((size_t)-1) == DS_ERR_INVALID_ARGUMENT);
    CHECK(ds_set_spin(2000000) == DS_ERR_INVALID_ARGUMENT);
    CHECK(ds_get_threads(NULL) == DS_ERR_INVALID_ARGUMENT);
    CHECK(ds_get_threads(&threads) == DS_OK && threads == 2);

    /* Changing the count while another thread classifies. */
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, classify_loop, NULL) == 0);
    for (int i = 0; i < 60; i++) {
        CHECK(ds_set_threads((size_t)(1 + i % 4)) == DS_OK);
        usleep(2000);
    }
    stop = 1;
    pthread_join(thread, NULL);
    CHECK(errors == 0 && mismatches == 0 && batches > 0);
    printf("batches while the count changed: %ld, mismatches %ld, errors %ld\n", batches, mismatches, errors);

    ds_model_free(model);
    free(pixels);
    return finish("thread control");
}
