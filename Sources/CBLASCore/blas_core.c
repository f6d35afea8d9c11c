// See include/blas_core.h.
#define _GNU_SOURCE
#include "blas_core.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

// Declared without a prototype: only its address is taken, to find the
// library that provides CBLAS in this process.
void cblas_sgemm();

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
// __builtin_cpu_supports reads the CPU's feature flags and, for AVX and
// AVX-512, whether the operating system saves their registers (as
// Sources/CKernels chooses its kernels).
int dsb_cpu_level(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx")) return 1;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 4;
    return 3;
}

int dsb_cpu_is_amd(void) {
    __builtin_cpu_init();
    return __builtin_cpu_is("amd");
}
#else
int dsb_cpu_level(void) { return 0; }
int dsb_cpu_is_amd(void) { return 0; }
#endif

// The library that holds cblas_sgemm, opened again (it is already loaded:
// RTLD_NOLOAD), so that its symbols are found even when it was loaded
// RTLD_LOCAL under a host's dlopen of libdeepscratch.so.
static void *blas_library(void) {
    static void *handle;
    if (handle) return handle;
    Dl_info info;
    if (dladdr((void *)cblas_sgemm, &info) && info.dli_fname)
        handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    return handle;
}

static void *blas_symbol(const char *name) {
    void *library = blas_library();
    return library ? dlsym(library, name) : NULL;
}

const char *dsb_blas_corename(void) {
    char *(*corename)(void) = (char *(*)(void))blas_symbol("openblas_get_corename");
    return corename ? corename() : NULL;
}

const char *dsb_blas_config(void) {
    char *(*config)(void) = (char *(*)(void))blas_symbol("openblas_get_config");
    return config ? config() : NULL;
}

int dsb_blas_set_core(const char *core) {
    void (*quit)(void) = (void (*)(void))blas_symbol("gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))blas_symbol("gotoblas_dynamic_init");
    if (!quit || !init || !dsb_blas_corename()) return -1;
    const char *old = getenv("OPENBLAS_CORETYPE");
    char *saved = old ? strdup(old) : NULL;
    if (old && !saved) return -1;
    setenv("OPENBLAS_CORETYPE", core, 1);
    quit();
    init();
    if (saved) {
        setenv("OPENBLAS_CORETYPE", saved, 1);
        free(saved);
    } else {
        unsetenv("OPENBLAS_CORETYPE");
    }
    const char *now = dsb_blas_corename();
    return now && strcasecmp(now, core) == 0 ? 0 : -2;
}
