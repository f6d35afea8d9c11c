// The engine's innermost loops that gain from instructions wider than the
// build's baseline (x86-64-v2: SSE4.2). Each is compiled for the baseline
// and for AVX2, and the version the CPU runs is chosen at load time (see
// kernels.c); the results are bit-identical either way.
#ifndef DEEPSCRATCH_KERNELS_H
#define DEEPSCRATCH_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// y[i] += a * x[i] for i < n.
void dsk_axpy(size_t n, float a, const float *x, float *y);

// C[r, c] = sum over t in start[r] ..< start[r + 1] of value[t] * B[index[t], c]
// (plus C[r, c] when accumulate) for rows r in [row_begin, row_end) and
// columns c in [col_begin, col_begin + 64 * blocks): the product of a CSR
// matrix and a dense row-major one, 64 columns at a time (the caller does
// any remaining columns).
void dsk_sparse_rows_times_dense64(const int32_t *start, const int32_t *index, const float *value,
                                   size_t row_begin, size_t row_end, const float *B, size_t ldb,
                                   size_t col_begin, size_t blocks, float *C, size_t ldc, int accumulate);

// The instruction set the kernels run with: "avx2" or "baseline".
const char *dsk_instruction_set(void);

// Chooses the versions: the widest this CPU runs (wide != 0) or the
// baseline ones (0, as DEEPSCRATCH_KERNELS=baseline does at load time).
// Returns 1 if the AVX2 versions were chosen. Not while kernels run.
int dsk_select(int wide);

#endif
