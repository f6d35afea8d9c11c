// The engine's innermost loops that gain from instructions wider than the
// build's baseline (x86-64-v2: SSE4.2). Each is compiled for the baseline
// and for AVX2 (the convolution also for AVX-512), and the version the CPU
// runs is chosen at load time (see kernels.c). The sparse product's results
// are bit-identical either way; the convolution's fused multiply-adds
// (direct_conv.c) agree with the baseline to rounding.
#ifndef DEEPSCRATCH_KERNELS_H
#define DEEPSCRATCH_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// C[r, 64i + c] = sum over t in start[r] ..< start[r + 1] of
// value[t] * B_i[index[t], c] (plus C[r, 64i + c] when accumulate) for rows
// r in [row_begin, row_end), blocks i < blocks and c < 64: the product of a
// CSR matrix and a dense one, 64 columns at a time. Block i of the dense
// matrix starts at B + i * block_stride and its rows are ldb apart: a
// row-major matrix has block_stride 64 and ldb its width; one stored as
// panels of 64 columns has block_stride 64 * rows and ldb 64. The caller
// does any remaining columns.
void dsk_sparse_rows_times_dense64(const int32_t *start, const int32_t *index, const float *value,
                                   size_t row_begin, size_t row_end, const float *B, size_t ldb,
                                   size_t block_stride, size_t blocks, float *C, size_t ldc, int accumulate);

// acc[r * ldc + 64p + c] = sum over g < groups and q < 4 of
// x[r * ldx + 4g + q] * w[(p * groups + g) * 256 + 4c + q], for r < rows
// (a multiple of 4), p < panels and c < 64: unsigned bytes (pixels) times
// signed bytes (int8 weights stored as panels of 64 outputs, 4 inputs per
// 32-bit group) summed exactly in 32 bits (at most 16,384 groups). ldx is
// at least 4 * groups; scratch holds 5 * groups words. With AVX-512 VNNI
// only the groups where one of four rows has a non-zero byte are read.
void dsk_u8s8_panels(const uint8_t *x, size_t ldx, size_t rows, const int8_t *w, size_t groups, size_t panels,
                     int32_t *acc, size_t ldc, uint32_t *scratch);

// 1 when dsk_u8s8_panels runs its AVX-512 VNNI version (faster than the
// float sparse product), 0 when it runs the generic one (slower: then
// inference keeps to floats).
int dsk_u8s8_is_fast(void);

// out[j] = 255 * p[j] rounded, for j < n; returns 1 when every p[j] is
// within 1e-4 / 255 of a multiple of 1/255 in [0, 1] (pixels that were
// bytes), 0 otherwise (out then holds clamped values and is not to be used).
int dsk_bytes_from_unit_floats(const float *p, size_t n, uint8_t *out);

// out[p * F + f] = act(bias[f] + sum over t < taps, c < C of
// in[(p / ow) * row_step + (p % ow) * col_step + tap[t] + c] * w[(t * C + c) * F + f])
// (bias NULL: 0)
// for p_begin <= p < p_end and f < F, act the ReLU when relu != 0 (max(0, a), 0 for
// NaN) or none: a convolution of one image stored channels-last (value
// (y, x, c) at (y * width + x) * C + c) with ow output pixels per row; the
// window of output pixel p starts row_step values per output row and
// col_step per output column further on (stride · width · C and stride · C),
// tap[t] is the offset of tap t within a window. out must not overlap in.
// AVX-512 or AVX2 with FMA where the CPU has them; see direct_conv.c.
void dsk_conv_hwc(const float *in, size_t ow, size_t row_step, size_t col_step, size_t p_begin, size_t p_end, const int32_t *tap,
                  size_t taps, size_t C, const float *w, const float *bias, size_t F, int relu, float *out);

// Winograd's F(2x2, 3x3) for a 3x3 convolution of stride 1 whose output
// (2 * tiles_y by 2 * tiles_x pixels) has even sides; see direct_conv.c.
// The input tiles of a channels-last image `width` pixels wide into V
// (16 × tiles × C, tiles = tiles_y * tiles_x, tile (ty, tx) at ty * tiles_x + tx):
// the rows row_begin ..< row_end (of 4) of each transformed tile, that is
// V[xi] for 4 * row_begin <= xi < 4 * row_end.
void dsk_winograd_input(const float *in, size_t width, size_t C, size_t tiles_y, size_t tiles_x, size_t row_begin,
                        size_t row_end, float *V);
// M[xi] = V[xi] · U[xi] for xi_begin <= xi < xi_end: U is 16 × C × F (the
// transformed filters), M 16 × tiles × F.
void dsk_winograd_products(const float *V, const float *U, size_t tiles, size_t C, size_t F, size_t xi_begin,
                           size_t xi_end, float *M);
// The output pixels from M, plus bias, through the ReLU when relu != 0
// (0 for NaN), into out (channels-last, 2 * tiles_x pixels per row, F channels).
void dsk_winograd_output(const float *M, size_t tiles_y, size_t tiles_x, size_t F, const float *bias, int relu,
                         float *out);

// The version dsk_conv_hwc runs: "avx512", "avx2" or "baseline".
const char *dsk_direct_conv_version(void);

// Chooses dsk_conv_hwc's version (called by dsk_select, same argument).
void dsk_direct_conv_select(int wide);

// The instruction set the kernels run with: "avx2" or "baseline".
const char *dsk_instruction_set(void);

// Chooses the versions: the widest this CPU runs (wide == 1), the baseline
// ones (0, as DEEPSCRATCH_KERNELS=baseline does at load time) or at most
// AVX2 (2, as DEEPSCRATCH_KERNELS=avx2 does: no AVX-512 version). Returns 1
// if the AVX2 versions were chosen (and with wide == 1 the VNNI version of
// dsk_u8s8_panels if the CPU has it). Not while kernels run.
int dsk_select(int wide);

#endif
