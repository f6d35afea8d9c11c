// The engine's innermost loops, compiled for two instruction sets.
//
// The library is built for a baseline every x86-64 CPU of the last fifteen
// years runs (x86-64-v2: SSE4.2). These loops are compiled a second time for
// Haswell's instruction set (AVX2, 256-bit vectors), and each call goes
// through a pointer set when the library is loaded: the AVX2 version if the
// CPU has AVX2 (__builtin_cpu_supports reads the CPU's feature flags), the
// baseline one otherwise, or when DEEPSCRATCH_KERNELS=baseline is set, or
// after dsk_select(0). Elsewhere than x86-64 there is one version.
//
// The arithmetic is the same in both: separate multiply and add (no fused
// multiply-add: FP_CONTRACT off, and no FMA in the AVX2 version's target),
// each output summed in the same order, so results are bit-identical
// whichever version runs.
#include <stdlib.h>
#include <string.h>
#include "kernels.h"

#pragma STDC FP_CONTRACT OFF

typedef float v8 __attribute__((vector_size(32), aligned(4)));

// Unaligned loads and stores (macros: a function passing v8 by value would
// need AVX in the baseline version).
#define load8(p) (*(const v8 *)(p))
#define store8(p, v) (*(v8 *)(p) = (v))

// The bodies, inlined into each version.

__attribute__((always_inline))
static inline void sparse64_body(const int32_t *start, const int32_t *index, const float *value,
                                 size_t row_begin, size_t row_end, const float *B, size_t ldb,
                                 size_t block_stride, size_t blocks, float *C, size_t ldc, int accumulate) {
    for (size_t block = 0; block < blocks; block++) {
        const float *Bb = B + block * block_stride;
        for (size_t r = row_begin; r < row_end; r++) {
            float *out = C + r * ldc + 64 * block;
            v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
            if (accumulate) {
                a0 = load8(out); a1 = load8(out + 8); a2 = load8(out + 16); a3 = load8(out + 24);
                a4 = load8(out + 32); a5 = load8(out + 40); a6 = load8(out + 48); a7 = load8(out + 56);
            }
            for (int32_t t = start[r]; t < start[r + 1]; t++) {
                // c[r, c0 ..< c0+64] += s * B[k, c0 ..< c0+64]
                v8 s = {value[t], value[t], value[t], value[t], value[t], value[t], value[t], value[t]};
                const float *row = Bb + (size_t)index[t] * ldb;
                a0 += s * load8(row); a1 += s * load8(row + 8); a2 += s * load8(row + 16); a3 += s * load8(row + 24);
                a4 += s * load8(row + 32); a5 += s * load8(row + 40); a6 += s * load8(row + 48); a7 += s * load8(row + 56);
            }
            store8(out, a0); store8(out + 8, a1); store8(out + 16, a2); store8(out + 24, a3);
            store8(out + 32, a4); store8(out + 40, a5); store8(out + 48, a6); store8(out + 56, a7);
        }
    }
}

#define SPARSE64_PARAMETERS const int32_t *start, const int32_t *index, const float *value, \
    size_t row_begin, size_t row_end, const float *B, size_t ldb, size_t block_stride, size_t blocks, \
    float *C, size_t ldc, int accumulate
#define SPARSE64_ARGUMENTS start, index, value, row_begin, row_end, B, ldb, block_stride, blocks, C, ldc, accumulate

// The baseline versions.
static void sparse64_baseline(SPARSE64_PARAMETERS) { sparse64_body(SPARSE64_ARGUMENTS); }

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define DSK_HAS_AVX2_VERSION 1
// Haswell's instruction set and tuning (unsplit 256-bit loads), without FMA
// contraction (FP_CONTRACT off above).
#define DSK_AVX2 __attribute__((target("arch=haswell,tune=haswell")))
DSK_AVX2 static void sparse64_avx2(SPARSE64_PARAMETERS) { sparse64_body(SPARSE64_ARGUMENTS); }
#endif

static void (*sparse64_selected)(SPARSE64_PARAMETERS) = sparse64_baseline;
static int avx2_selected;

int dsk_select(int wide) {
#ifdef DSK_HAS_AVX2_VERSION
    __builtin_cpu_init();
    int use = wide && __builtin_cpu_supports("avx2");
    sparse64_selected = use ? sparse64_avx2 : sparse64_baseline;
    avx2_selected = use;
    return use;
#else
    (void)wide;
    return 0;
#endif
}

// At load time: the widest version the CPU runs, unless the environment says baseline.
__attribute__((constructor))
static void dsk_select_at_load(void) {
    const char *choice = getenv("DEEPSCRATCH_KERNELS");
    dsk_select(!(choice && strcmp(choice, "baseline") == 0));
}

const char *dsk_instruction_set(void) { return avx2_selected ? "avx2" : "baseline"; }

void dsk_sparse_rows_times_dense64(SPARSE64_PARAMETERS) { sparse64_selected(SPARSE64_ARGUMENTS); }
