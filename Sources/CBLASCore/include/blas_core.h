// What the system's BLAS runs, and the means to change OpenBLAS's kernels.
//
// Debian 12's OpenBLAS (0.3.21, built with DYNAMIC_ARCH) picks its kernels
// once, when it is loaded, from the CPU's family and model numbers. A CPU
// newer than the library (such as an Intel Xeon of family 6 model 207) gets
// its oldest x86-64 kernels ("Prescott", SSE3), several times slower than
// the CPU allows. These functions read what runs and, through OpenBLAS's own
// exported entry points, pick kernels again as OPENBLAS_CORETYPE would at
// load time. The policy (when to do it) lives in the engine: BLASBackend.swift.
#ifndef DEEPSCRATCH_BLAS_CORE_H
#define DEEPSCRATCH_BLAS_CORE_H

#include <stddef.h>

// The widest x86-64 instruction set this CPU and its operating system
// enable: 4 = AVX-512 (F, CD, BW, DQ, VL), 3 = AVX2 with FMA, 2 = AVX,
// 1 = SSE3 or less, 0 = not x86-64.
int dsb_cpu_level(void);

// 1 on an AMD CPU, else 0.
int dsb_cpu_is_amd(void);

// The name of the kernels OpenBLAS runs ("Prescott", "SkylakeX", ...), or
// NULL when the BLAS in the process is not OpenBLAS (no
// openblas_get_corename). The string is OpenBLAS's own.
const char *dsb_blas_corename(void);

// OpenBLAS's build description ("OpenBLAS 0.3.21 DYNAMIC_ARCH ..."), or
// NULL when the BLAS is not OpenBLAS.
const char *dsb_blas_config(void);

// Makes OpenBLAS run the kernels named `core` (a name OPENBLAS_CORETYPE
// accepts), by calling gotoblas_dynamic_quit and gotoblas_dynamic_init with
// OPENBLAS_CORETYPE set to `core` for the duration of the call (the
// variable's previous value, or its absence, is restored). Returns 0 when
// OpenBLAS now runs `core`, -1 when this OpenBLAS has no dynamic kernel
// choice (a build without DYNAMIC_ARCH, or not OpenBLAS), -2 when it chose
// other kernels (it does not know `core`). Not thread-safe: no BLAS call may
// run meanwhile in the process, and no other thread may read or change the
// environment.
int dsb_blas_set_core(const char *core);

#endif
