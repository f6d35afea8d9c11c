// Direct convolution of one image stored channels-last (HWC), the loop
// inference runs for every convolution: no patch matrix, no BLAS call.
//
// out[p, f] = act(b[f] + sum over taps t and channels c of
//                 in[corner(p) + tap[t] + c] * w[t, c, f])
//
// An output tile of P pixels by V vectors of filters stays in registers
// while the kernel walks the taps and channels: per channel it loads V
// vectors of weights and broadcasts P input values, P·V fused multiply-adds.
// The taps are taken in blocks whose weights (taps × C × V vectors) fit the
// first-level cache; between blocks the tile is stored and reloaded.
//
// Three versions, chosen at load time with the others in kernels.c: AVX-512
// (16 lanes, tiles of 6×4 vectors: 24 accumulators of the 32 registers),
// AVX2+FMA (8 lanes, 6×2), and a baseline one with 4-lane vectors and
// separate multiply and add (SSE on x86-64, NEON elsewhere). They sum in the
// same order but the fused versions round once per multiply-add, so they agree
// to rounding, not bit for bit.
#include <stddef.h>
#include <stdint.h>
#include "kernels.h"

// Floats of weights a block of taps may span (16 KiB, half of a 32 KiB L1).
#define DSK_CONV_BLOCK_FLOATS 4096

// The tile: pixels p0 ..< p0+P, filter vectors f0 ..< f0 + V·LANES, taps t0 ..< t1.
// `first`: start from the bias (else from out); `last`: apply the ReLU if asked.
#define DSK_CONV_TILE(NAME, VEC, LANES, PMAX, VMAX, ATTR)                                                   \
    ATTR __attribute__((always_inline)) static inline void NAME(                                            \
        const float *in, size_t ow, size_t row_step, size_t col_step, size_t p0, const int32_t *tap, size_t t0, size_t t1,        \
        size_t C, const float *w, const float *bias, size_t F, size_t f0, int first, int last, int relu,   \
        float *out, const int P, const int V) {                                                             \
        VEC acc[PMAX][VMAX];                                                                                \
        _Pragma("clang loop unroll(full)") for (int p = 0; p < P; p++)                                      \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++)                                  \
                acc[p][v] = first ? (bias ? *(const VEC *)(bias + f0 + LANES * v) : (VEC){0})               \
                                  : *(const VEC *)(out + (p0 + p) * F + f0 + LANES * v);                    \
        const float *corner[PMAX];                                                                          \
        _Pragma("clang loop unroll(full)") for (int p = 0; p < P; p++)                                      \
            corner[p] = in + (p0 + p) / ow * row_step + (p0 + p) % ow * col_step;                           \
        for (size_t t = t0; t < t1; t++) {                                                                  \
            const float *src[PMAX];                                                                         \
            _Pragma("clang loop unroll(full)") for (int p = 0; p < P; p++) src[p] = corner[p] + tap[t];     \
            const float *wt = w + t * C * F + f0;                                                           \
            for (size_t c = 0; c < C; c++) {                                                                \
                VEC wv[VMAX];                                                                               \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++)                              \
                    wv[v] = *(const VEC *)(wt + c * F + LANES * v);                                         \
                _Pragma("clang loop unroll(full)") for (int p = 0; p < P; p++) {                            \
                    /* acc[p] += in[pixel p, tap t, channel c] · w[t, c, f0 ...] */                         \
                    VEC x = src[p][c] - (VEC){0}; /* a splat: x − 0 is x exactly */                         \
                    _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++) acc[p][v] += x * wv[v];  \
                }                                                                                           \
            }                                                                                               \
        }                                                                                                   \
        _Pragma("clang loop unroll(full)") for (int p = 0; p < P; p++)                                      \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++) {                                \
                VEC a = acc[p][v];                                                                          \
                if (last && relu) a = __builtin_elementwise_max(a, (VEC){0});                                          \
                *(VEC *)(out + (p0 + p) * F + f0 + LANES * v) = a;                                          \
            }                                                                                               \
    }

// One pass over the pixels p_begin ..< p_end for the filter vectors
// f0 ..< f0 + V·LANES: tiles of P pixels, then one tile of the rest.
#define DSK_CONV_CALL(TILE, P, V) TILE(in, ow, row_step, col_step, p0, tap, t0, t1, C, w, bias, F, f0, first, last, relu, out, P, V)
#define DSK_CONV_PIXELS(TILE, P, V)                                                                         \
    do {                                                                                                    \
        size_t p0 = p_begin;                                                                                \
        for (; p0 + P <= p_end; p0 += P) DSK_CONV_CALL(TILE, P, V);                                         \
        switch (p_end - p0) {                                                                               \
        case 7: DSK_CONV_CALL(TILE, 7, V); break;                                                           \
        case 6: DSK_CONV_CALL(TILE, 6, V); break;                                                           \
        case 5: DSK_CONV_CALL(TILE, 5, V); break;                                                           \
        case 4: DSK_CONV_CALL(TILE, 4, V); break;                                                           \
        case 3: DSK_CONV_CALL(TILE, 3, V); break;                                                           \
        case 2: DSK_CONV_CALL(TILE, 2, V); break;                                                           \
        case 1: DSK_CONV_CALL(TILE, 1, V); break;                                                           \
        default: break;                                                                                     \
        }                                                                                                   \
        f0 += V * LANES_;                                                                                   \
    } while (0)

// The whole convolution: blocks of taps, then vectors of filters (VMAX at a
// time, then VMAX/2, then 1), then tiles of pixels; filters past the last
// whole vector one at a time.
#define DSK_CONV_DRIVER(NAME, TILE, LANES, VMAX, PWIDE, PHALF, PONE, ATTR)                                  \
    ATTR static void NAME(const float *in, size_t ow, size_t row_step, size_t col_step, size_t p_begin, size_t p_end, const int32_t *tap,         \
                          size_t taps, size_t C, const float *w, const float *bias, size_t F, int relu,     \
                          float *out) {                                                                     \
        enum { LANES_ = LANES };                                                                            \
        size_t vectors = F / LANES, widest = vectors < VMAX ? (vectors ? vectors : 1) : VMAX;             \
        size_t block = DSK_CONV_BLOCK_FLOATS / (C * widest * LANES);                                        \
        if (block < 1) block = 1;                                                                           \
        for (size_t t0 = 0; t0 < taps; t0 += block) {                                                       \
            size_t t1 = t0 + block < taps ? t0 + block : taps;                                              \
            int first = t0 == 0, last = t1 == taps;                                                         \
            size_t f0 = 0;                                                                                  \
            while (f0 + VMAX * LANES <= vectors * LANES) DSK_CONV_PIXELS(TILE, PWIDE, VMAX);                \
            if (VMAX > 2 && f0 + (VMAX / 2) * LANES <= vectors * LANES) DSK_CONV_PIXELS(TILE, PHALF, VMAX / 2); \
            while (f0 < vectors * LANES) DSK_CONV_PIXELS(TILE, PONE, 1);                                    \
        }                                                                                                   \
        for (size_t f = vectors * LANES; f < F; f++)                                                        \
            for (size_t p = p_begin; p < p_end; p++) {                                                           \
                float a = bias ? bias[f] : 0;                                                               \
                for (size_t t = 0; t < taps; t++)                                                           \
                    for (size_t c = 0; c < C; c++) a += in[p / ow * row_step + p % ow * col_step + tap[t] + c] * w[(t * C + c) * F + f]; \
                out[p * F + f] = relu && !(a > 0) ? 0 : a;                                                  \
            }                                                                                               \
    }

typedef float v4 __attribute__((vector_size(16), aligned(4)));

// Baseline: separate multiply and add (no FMA in x86-64-v2).
#pragma STDC FP_CONTRACT OFF
DSK_CONV_TILE(tile_baseline, v4, 4, 8, 2, )
DSK_CONV_DRIVER(conv_baseline, tile_baseline, 4, 2, 6, 8, 8, )

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
typedef float v8 __attribute__((vector_size(32), aligned(4)));
typedef float v16 __attribute__((vector_size(64), aligned(4)));
#pragma STDC FP_CONTRACT ON
#define DSK_CONV_AVX2 __attribute__((target("avx2,fma")))
#define DSK_CONV_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
DSK_CONV_TILE(tile_avx2, v8, 8, 8, 2, DSK_CONV_AVX2)
DSK_CONV_DRIVER(conv_avx2, tile_avx2, 8, 2, 6, 8, 8, DSK_CONV_AVX2)
DSK_CONV_TILE(tile_avx512, v16, 16, 8, 4, DSK_CONV_AVX512)
DSK_CONV_DRIVER(conv_avx512, tile_avx512, 16, 4, 6, 8, 8, DSK_CONV_AVX512)
#endif

typedef void (*conv_function)(const float *, size_t, size_t, size_t, size_t, size_t, const int32_t *, size_t, size_t, const float *,
                              const float *, size_t, int, float *);
static conv_function conv_selected = conv_baseline;
static const char *conv_name = "baseline";

void dsk_direct_conv_select(int wide) {
    conv_selected = conv_baseline;
    conv_name = "baseline";
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    if (wide == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) {
        conv_selected = conv_avx512;
        conv_name = "avx512";
    } else if (wide && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        conv_selected = conv_avx2;
        conv_name = "avx2";
    }
#else
    (void)wide;
#endif
}

const char *dsk_direct_conv_version(void) { return conv_name; }

void dsk_conv_hwc(const float *in, size_t ow, size_t row_step, size_t col_step, size_t p_begin, size_t p_end, const int32_t *tap, size_t taps, size_t C,
                  const float *w, const float *bias, size_t F, int relu, float *out) {
    conv_selected(in, ow, row_step, col_step, p_begin, p_end, tap, taps, C, w, bias, F, relu, out);
}

// Winograd's F(2×2, 3×3) (Lavin and Gray, 2015): a 3×3 convolution of
// stride 1 computed 2×2 output pixels at a time from 4×4 input tiles, with
// 16 products per tile, filter and channel where the direct way takes 36.
// For tile (ty, tx), channel c and filter f:
//   V = Bᵀ d B   (d the 4×4 input tile at (2ty, 2tx), channel c)
//   U = G g Gᵀ   (g the 3×3 filter f, channel c; done once, when the model loads)
//   M[ξ] = Σ_c U[ξ] · V[ξ]   for each of the 16 positions ξ: a product (tiles × C)·(C × F)
//   Y = Aᵀ M A   (the 2×2 output pixels)
// with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1] and Aᵀ = [1 1 1 0; 0 1 −1 −1].

// (Both transforms run over 64 channels at a time, the channel innermost, so
// the loops are vector operations on contiguous values.)
#define DSK_WINOGRAD_CHUNK 64

__attribute__((always_inline)) static inline void winograd_input_body(
    const float *in, size_t width, size_t C, size_t tiles_y, size_t tiles_x, size_t row_begin, size_t row_end, float *V) {
    size_t tiles = tiles_y * tiles_x;
    float r[4][DSK_WINOGRAD_CHUNK];
    for (size_t ty = 0; ty < tiles_y; ty++)
        for (size_t tx = 0; tx < tiles_x; tx++)
            for (size_t c0 = 0; c0 < C; c0 += DSK_WINOGRAD_CHUNK) {
                size_t n = C - c0 < DSK_WINOGRAD_CHUNK ? C - c0 : DSK_WINOGRAD_CHUNK;
                const float *d = in + (2 * ty * width + 2 * tx) * C + c0;
                float *v = V + (ty * tiles_x + tx) * C + c0;
                for (size_t i = row_begin; i < row_end && i < 4; i++) {
                    // row i of Bᵀ d: x0 − x2, x1 + x2, x2 − x1, x1 − x3 (x_k the tile's row k)
                    static const int first[4] = {0, 1, 2, 1}, second[4] = {2, 2, 1, 3};
                    static const float sign[4] = {-1, 1, -1, -1};
                    for (int j = 0; j < 4; j++) {
                        const float *a = d + ((size_t)first[i] * width + j) * C, *b = d + ((size_t)second[i] * width + j) * C;
                        float k = sign[i];
                        for (size_t c = 0; c < n; c++) r[j][c] = a[c] + k * b[c];
                    }
                    // row i of (Bᵀ d) B: the same on its columns
                    float *v0 = v + (4 * i + 0) * tiles * C, *v1 = v + (4 * i + 1) * tiles * C;
                    float *v2 = v + (4 * i + 2) * tiles * C, *v3 = v + (4 * i + 3) * tiles * C;
                    for (size_t c = 0; c < n; c++) {
                        v0[c] = r[0][c] - r[2][c];
                        v1[c] = r[1][c] + r[2][c];
                        v2[c] = r[2][c] - r[1][c];
                        v3[c] = r[1][c] - r[3][c];
                    }
                }
            }
}

void dsk_winograd_products(const float *V, const float *U, size_t tiles, size_t C, size_t F, size_t xi_begin,
                           size_t xi_end, float *M) {
    static const int32_t no_offset[1] = {0};
    for (size_t xi = xi_begin; xi < xi_end; xi++)
        // M[ξ] (tiles × F) = V[ξ] (tiles × C) · U[ξ] (C × F): a 1×1 convolution over the tiles
        conv_selected(V + xi * tiles * C, tiles, 0, C, 0, tiles, no_offset, 1, C, U + xi * C * F, NULL, F, 0,
                      M + xi * tiles * F);
}

__attribute__((always_inline)) static inline void winograd_output_body(
    const float *M, size_t tiles_y, size_t tiles_x, size_t F, const float *bias, int relu, float *out) {
    size_t tiles = tiles_y * tiles_x, ow = 2 * tiles_x;
    float r[2][4][DSK_WINOGRAD_CHUNK];
    for (size_t ty = 0; ty < tiles_y; ty++)
        for (size_t tx = 0; tx < tiles_x; tx++)
            for (size_t f0 = 0; f0 < F; f0 += DSK_WINOGRAD_CHUNK) {
                size_t n = F - f0 < DSK_WINOGRAD_CHUNK ? F - f0 : DSK_WINOGRAD_CHUNK;
                const float *m = M + (ty * tiles_x + tx) * F + f0;
                // Aᵀ M: rows
                for (int j = 0; j < 4; j++) {
                    const float *m0 = m + (0 + j) * tiles * F, *m1 = m + (4 + j) * tiles * F;
                    const float *m2 = m + (8 + j) * tiles * F, *m3 = m + (12 + j) * tiles * F;
                    for (size_t f = 0; f < n; f++) {
                        r[0][j][f] = m0[f] + m1[f] + m2[f];
                        r[1][j][f] = m1[f] - m2[f] - m3[f];
                    }
                }
                // (Aᵀ M) A + b, through the ReLU: columns
                for (int i = 0; i < 2; i++) {
                    float *y0 = out + ((2 * ty + i) * ow + 2 * tx) * F + f0, *y1 = y0 + F;
                    const float *b = bias + f0;
                    for (size_t f = 0; f < n; f++) {
                        float a0 = b[f] + (r[i][0][f] + r[i][1][f] + r[i][2][f]);
                        float a1 = b[f] + (r[i][1][f] - r[i][2][f] - r[i][3][f]);
                        y0[f] = relu ? (a0 > 0 ? a0 : 0) : a0;
                        y1[f] = relu ? (a1 > 0 ? a1 : 0) : a1;
                    }
                }
            }
}

// The transforms, compiled for each instruction set (their loops are
// vector operations over the channels) and chosen with the convolution.
#define DSK_WINOGRAD_INPUT_ARGS const float *in, size_t width, size_t C, size_t tiles_y, size_t tiles_x, \
    size_t row_begin, size_t row_end, float *V
#define DSK_WINOGRAD_OUTPUT_ARGS const float *M, size_t tiles_y, size_t tiles_x, size_t F, const float *bias, int relu, \
    float *out
static void winograd_input_baseline(DSK_WINOGRAD_INPUT_ARGS) {
    winograd_input_body(in, width, C, tiles_y, tiles_x, row_begin, row_end, V);
}
static void winograd_output_baseline(DSK_WINOGRAD_OUTPUT_ARGS) { winograd_output_body(M, tiles_y, tiles_x, F, bias, relu, out); }
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
DSK_CONV_AVX2 static void winograd_input_avx2(DSK_WINOGRAD_INPUT_ARGS) {
    winograd_input_body(in, width, C, tiles_y, tiles_x, row_begin, row_end, V);
}
DSK_CONV_AVX2 static void winograd_output_avx2(DSK_WINOGRAD_OUTPUT_ARGS) {
    winograd_output_body(M, tiles_y, tiles_x, F, bias, relu, out);
}
DSK_CONV_AVX512 static void winograd_input_avx512(DSK_WINOGRAD_INPUT_ARGS) {
    winograd_input_body(in, width, C, tiles_y, tiles_x, row_begin, row_end, V);
}
DSK_CONV_AVX512 static void winograd_output_avx512(DSK_WINOGRAD_OUTPUT_ARGS) {
    winograd_output_body(M, tiles_y, tiles_x, F, bias, relu, out);
}
#endif

void dsk_winograd_input(DSK_WINOGRAD_INPUT_ARGS) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (conv_selected == conv_avx512) { winograd_input_avx512(in, width, C, tiles_y, tiles_x, row_begin, row_end, V); return; }
    if (conv_selected == conv_avx2) { winograd_input_avx2(in, width, C, tiles_y, tiles_x, row_begin, row_end, V); return; }
#endif
    winograd_input_baseline(in, width, C, tiles_y, tiles_x, row_begin, row_end, V);
}

void dsk_winograd_output(DSK_WINOGRAD_OUTPUT_ARGS) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (conv_selected == conv_avx512) { winograd_output_avx512(M, tiles_y, tiles_x, F, bias, relu, out); return; }
    if (conv_selected == conv_avx2) { winograd_output_avx2(M, tiles_y, tiles_x, F, bias, relu, out); return; }
#endif
    winograd_output_baseline(M, tiles_y, tiles_x, F, bias, relu, out);
}
