// The CBLAS sgemm of the BLAS library MLX itself uses (OpenBLAS after setup, found at run time), and control of
// that library's own threads: while our kernels are selected they parallelise the products themselves (see
// kernel_matmul_op.cpp), so OpenBLAS runs single-threaded instead of keeping a second, spinning set of threads.
#pragma once

#include "kernel_cpu.hpp"

namespace nucleus::kernels {

enum CblasLayout { cblas_row_major = 101 };
enum CblasTranspose { cblas_no_trans = 111, cblas_trans = 112 };

using SgemmFunction = void (*)(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                               int lda, const float *b, int ldb, float beta, float *c, int ldc);

// cblas_sgemm, or nullptr when no loaded library exports it.
SgemmFunction sgemm();

// Gives the BLAS library its own threads back (for MLX's operations) or takes them away (for ours).
void use_blas_threads(bool own_threads);

}  // namespace nucleus::kernels
