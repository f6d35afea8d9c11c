/* dlclose LIBDEEPSCRATCH.so MODEL.dsm [CYCLES]
 *
 * A host that loads the library with dlopen and unloads it with dlclose
 * while its own threads live on, as plugin hosts and scripting languages
 * do. A thread makes a call that fails (so it holds a per-thread error
 * message) and a batch runs (so the library's worker threads exist); the
 * library is dlclosed; then the thread exits, which runs the per-thread
 * destructors. Then CYCLES (default 2000, more than the 1024 pthread keys a
 * process has) dlopen / failing call / dlclose cycles, after which a new
 * pthread key must still be available. Prints "dlclose ok" and exits 0, or
 * dies (the failure being tested for). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "deepscratch.h"

typedef ds_status (*load_fn)(const char *, ds_model **);
typedef ds_status (*batch_fn)(const ds_model *, const float *, size_t, size_t, float *, size_t, int *);
typedef ds_status (*free_fn)(ds_model *);
typedef const char *(*error_fn)(void);

static void *library;
static const char *model_path;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int stage;

static void *symbol(void *lib, const char *name) {
    void *s = dlsym(lib, name);
    if (!s) {
        fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
        exit(2);
    }
    return s;
}

static void set_stage(int s) {
    pthread_mutex_lock(&mutex);
    stage = s;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&mutex);
}

static void wait_stage(int s) {
    pthread_mutex_lock(&mutex);
    while (stage < s) pthread_cond_wait(&changed, &mutex);
    pthread_mutex_unlock(&mutex);
}

static void *worker(void *arg) {
    (void)arg;
    ds_model *m = NULL;
    ds_status s = ((load_fn)symbol(library, "ds_model_load"))("/nonexistent/model.dsm", &m);
    const char *message = ((error_fn)symbol(library, "ds_last_error"))();
    if (s != DS_ERR_IO || strlen(message) == 0) {
        fprintf(stderr, "expected DS_ERR_IO with a message, got %d '%s'\n", (int)s, message);
        exit(1);
    }
    set_stage(1);
    wait_stage(2); /* the library has been dlclosed: now exit, running the thread's destructors */
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s LIBDEEPSCRATCH.so MODEL.dsm [CYCLES]\n", argv[0]);
        return 2;
    }
    model_path = argv[2];
    int cycles = argc > 3 ? atoi(argv[3]) : 2000;
    library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    /* A batch, so that the library's worker threads exist. */
    ds_model *m = NULL;
    float *images = calloc(512 * 784, sizeof *images);
    int *classes = malloc(512 * sizeof *classes);
    if (!images || !classes || ((load_fn)symbol(library, "ds_model_load"))(model_path, &m) != DS_OK ||
        ((batch_fn)symbol(library, "ds_classify_batch"))(m, images, 512, 784, NULL, 0, classes) != DS_OK) {
        fprintf(stderr, "load or batch failed\n");
        return 1;
    }
    ((free_fn)symbol(library, "ds_model_free"))(m);

    pthread_t thread;
    if (pthread_create(&thread, NULL, worker, NULL) != 0) return 2;
    wait_stage(1);
    if (dlclose(library) != 0) {
        fprintf(stderr, "dlclose: %s\n", dlerror());
        return 1;
    }
    set_stage(2);
    pthread_join(thread, NULL);

    for (int i = 0; i < cycles; i++) {
        void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            fprintf(stderr, "dlopen, cycle %d: %s\n", i, dlerror());
            return 1;
        }
        ds_model *none = NULL;
        if (((load_fn)symbol(lib, "ds_model_load"))("/nonexistent/model.dsm", &none) != DS_ERR_IO) return 1;
        dlclose(lib);
    }
    pthread_key_t key;
    int rc = pthread_key_create(&key, NULL);
    if (rc != 0) {
        fprintf(stderr, "after %d dlopen/dlclose cycles no pthread key is left (error %d)\n", cycles, rc);
        return 1;
    }
    free(images);
    free(classes);
    printf("dlclose ok\n");
    return 0;
}
