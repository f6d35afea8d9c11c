// The engine's innermost loops that gain from instructions wider than the
// build's baseline (x86-64-v2: SSE4.2). Each is compiled for the baseline
// and for AVX2, and the version the CPU runs is chosen at load time (see
// kernels.c); the results are bit-identical either way.
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

// The instruction set the kernels run with: "avx2" or "baseline".
const char *dsk_instruction_set(void);

// Chooses the versions: the widest this CPU runs (wide != 0) or the
// baseline ones (0, as DEEPSCRATCH_KERNELS=baseline does at load time).
// Returns 1 if the AVX2 versions were chosen (and with wide != 0 the VNNI
// version of dsk_u8s8_panels if the CPU has it). Not while kernels run.
int dsk_select(int wide);

#endif
