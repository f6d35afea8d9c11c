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

#if defined(__x86_64__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

int dsb_cpu_level(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 1;
    int avx = (c & bit_AVX) != 0, fma = (c & bit_FMA) != 0;
    int osxsave = (c & bit_OSXSAVE) != 0;
    if (!osxsave || !avx) return 1;
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return 1;  // the OS saves no YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 2;
    int avx2 = (b & bit_AVX2) != 0;
    unsigned avx512 = bit_AVX512F | bit_AVX512CD | bit_AVX512BW | bit_AVX512DQ | bit_AVX512VL;
    if (avx2 && fma && (b & avx512) == avx512 && (xcr0 & 0xe6) == 0xe6) return 4;
    if (avx2 && fma) return 3;
    return 2;
}

int dsb_cpu_is_amd(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    return b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;  // "AuthenticAMD"
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
