// The engine's innermost loops, compiled for two instruction sets.
//
// The library is built for a baseline every x86-64 CPU of the last fifteen
// years runs (x86-64-v2: SSE4.2). These loops are compiled a second time for
// Haswell's instruction set (AVX2, 256-bit vectors), and each call goes
// through a pointer set when the library is loaded: the AVX2 version if the
// CPU has AVX2 (__builtin_cpu_supports reads the CPU's feature flags), the
// baseline one otherwise, or when DEEPSCRATCH_KERNELS=baseline is set, or
// after dsk_select(0). Elsewhere than x86-64 there is one version.
// dsk_select also chooses the convolution's version (direct_conv.c: AVX-512,
// AVX2 with FMA, or baseline); DEEPSCRATCH_KERNELS=avx2 keeps it to AVX2.
//
// The arithmetic is the same in both: separate multiply and add (no fused
// multiply-add: FP_CONTRACT off, and no FMA in the AVX2 version's target),
// each output summed in the same order, so results are bit-identical
// whichever version runs.
//
// The int8 product (pixel bytes times int8 weights, for an int8 model's
// first layer) has a generic version and an AVX-512 VNNI one; it sums in
// integers, so both give the same result exactly.
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#endif

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

// acc[r, 64p + c] = sum over g < groups, q < 4 of x[r, 4g + q] * w_p[g, c, q]:
// bytes times signed bytes summed in 32 bits, which is exact, so every
// version gives the same integers.
static void u8s8_generic(const uint8_t *x, size_t ldx, size_t rows, const int8_t *w, size_t groups,
                         size_t panels, int32_t *acc, size_t ldc, uint32_t *scratch) {
    (void)scratch;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *xr = x + r * ldx;
        for (size_t p = 0; p < panels; p++) {
            int32_t sum[64] = {0};
            for (size_t g = 0; g < groups; g++) {
                const uint8_t *xg = xr + 4 * g;
                if ((xg[0] | xg[1] | xg[2] | xg[3]) == 0) continue;
                const int8_t *wg = w + (p * groups + g) * 256;
                for (int c = 0; c < 64; c++)
                    for (int q = 0; q < 4; q++) sum[c] += (int32_t)xg[q] * (int32_t)wg[4 * c + q];
            }
            memcpy(acc + r * ldc + 64 * p, sum, sizeof sum);
        }
    }
}

// The baseline versions.
static void sparse64_baseline(SPARSE64_PARAMETERS) { sparse64_body(SPARSE64_ARGUMENTS); }

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define DSK_HAS_AVX2_VERSION 1
// Haswell's instruction set and tuning (unsplit 256-bit loads), without FMA
// contraction (FP_CONTRACT off above).
#define DSK_AVX2 __attribute__((target("arch=haswell,tune=haswell")))
DSK_AVX2 static void sparse64_avx2(SPARSE64_PARAMETERS) { sparse64_body(SPARSE64_ARGUMENTS); }

// AVX-512 VNNI (vpdpbusd: 64 byte products summed into 16 lanes per
// instruction). Four rows at a time: the 4-byte groups where one of the
// four has a non-zero byte are listed once (scratch: groups + 4 * groups
// words), and each panel's weights for such a group (256 bytes) are loaded
// once for the four rows.
#define DSK_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
DSK_VNNI static void u8s8_vnni(const uint8_t *x, size_t ldx, size_t rows, const int8_t *w, size_t groups,
                               size_t panels, int32_t *acc, size_t ldc, uint32_t *scratch) {
    uint32_t *used = scratch, *words = scratch + groups;
    for (size_t r0 = 0; r0 < rows; r0 += 4) {
        size_t u = 0;
        for (size_t g = 0; g < groups; g++) {
            uint32_t w4[4], any = 0;
            for (int i = 0; i < 4; i++) { memcpy(&w4[i], x + (r0 + i) * ldx + 4 * g, 4); any |= w4[i]; }
            if (!any) continue;
            used[u] = (uint32_t)g;
            memcpy(words + 4 * u, w4, sizeof w4);
            u++;
        }
        for (size_t p = 0; p < panels; p++) {
            const int8_t *wp = w + p * groups * 256;
            __m512i a[4][4];
            for (int i = 0; i < 4; i++) for (int v = 0; v < 4; v++) a[i][v] = _mm512_setzero_si512();
            for (size_t t = 0; t < u; t++) {
                const int8_t *wg = wp + (size_t)used[t] * 256;
                __m512i w0 = _mm512_loadu_si512(wg), w1 = _mm512_loadu_si512(wg + 64);
                __m512i w2 = _mm512_loadu_si512(wg + 128), w3 = _mm512_loadu_si512(wg + 192);
                for (int i = 0; i < 4; i++) {
                    __m512i xi = _mm512_set1_epi32((int)words[4 * t + i]);
                    a[i][0] = _mm512_dpbusd_epi32(a[i][0], xi, w0);
                    a[i][1] = _mm512_dpbusd_epi32(a[i][1], xi, w1);
                    a[i][2] = _mm512_dpbusd_epi32(a[i][2], xi, w2);
                    a[i][3] = _mm512_dpbusd_epi32(a[i][3], xi, w3);
                }
            }
            for (int i = 0; i < 4; i++)
                for (int v = 0; v < 4; v++) _mm512_storeu_si512(acc + (r0 + i) * ldc + 64 * p + 16 * v, a[i][v]);
        }
    }
}
#endif

static void (*sparse64_selected)(SPARSE64_PARAMETERS) = sparse64_baseline;
static int avx2_selected;
static void (*u8s8_selected)(const uint8_t *, size_t, size_t, const int8_t *, size_t, size_t, int32_t *, size_t,
                             uint32_t *) = u8s8_generic;
static int vnni_selected;

int dsk_select(int wide) {
    dsk_direct_conv_select(wide);
#ifdef DSK_HAS_AVX2_VERSION
    __builtin_cpu_init();
    int use = wide && __builtin_cpu_supports("avx2");
    sparse64_selected = use ? sparse64_avx2 : sparse64_baseline;
    avx2_selected = use;
    int vnni = wide == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni");
    u8s8_selected = vnni ? u8s8_vnni : u8s8_generic;
    vnni_selected = vnni;
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
    dsk_select(!choice ? 1 : strcmp(choice, "baseline") == 0 ? 0 : strcmp(choice, "avx2") == 0 ? 2 : 1);
}

const char *dsk_instruction_set(void) { return avx2_selected ? "avx2" : "baseline"; }

void dsk_sparse_rows_times_dense64(SPARSE64_PARAMETERS) { sparse64_selected(SPARSE64_ARGUMENTS); }

int dsk_u8s8_is_fast(void) { return vnni_selected; }

int dsk_bytes_from_unit_floats(const float *p, size_t n, uint8_t *out) {
    int bad = 0;
    for (size_t j = 0; j < n; j++) {
        float v = p[j] * 255.0f, u = __builtin_rintf(v), d = v - u;
        // (a NaN fails every comparison, so it is bad too)
        bad |= !(u >= 0.0f && u <= 255.0f && d <= 1e-4f && d >= -1e-4f);
        // clamped first: converting a value outside int's range is undefined
        out[j] = (uint8_t)(int)__builtin_fmaxf(0.0f, __builtin_fminf(u, 255.0f));
    }
    return !bad;
}

void dsk_u8s8_panels(const uint8_t *x, size_t ldx, size_t rows, const int8_t *w, size_t groups, size_t panels,
                     int32_t *acc, size_t ldc, uint32_t *scratch) {
    u8s8_selected(x, ldx, rows, w, groups, panels, acc, ldc, scratch);
}
