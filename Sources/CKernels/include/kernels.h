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

// The instruction set the kernels run with: "avx2" or "baseline".
const char *dsk_instruction_set(void);

// Chooses the versions: the widest this CPU runs (wide != 0) or the
// baseline ones (0, as DEEPSCRATCH_KERNELS=baseline does at load time).
// Returns 1 if the AVX2 versions were chosen. Not while kernels run.
int dsk_select(int wide);

#endif
