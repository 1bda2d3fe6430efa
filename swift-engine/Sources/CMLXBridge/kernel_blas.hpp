// The CBLAS sgemm our matmul and conv2d kernels call, and control of the BLAS library's own threads.
//
// Two providers: the BLAS library MLX itself loads (OpenBLAS after setup; "openblas") and Intel oneMKL's sequential
// sgemm ("mkl"), which setup unpacks beside it on x86-64 Linux from the `mkl` wheel (about 5–20 % faster than
// OpenBLAS on the DiT's shapes on AVX-512 CPUs, single-threaded). MKL is used when present unless
// NUCLEUS_CPU_SGEMM (auto, mkl, openblas) or select_sgemm says otherwise. While our kernels are selected they
// parallelise the products themselves (see kernel_matmul_op.cpp), so OpenBLAS runs single-threaded instead of
// keeping a second, spinning set of threads, and MKL is loaded with its sequential layer.
#pragma once

#include "kernel_cpu.hpp"

namespace nucleus::kernels {

enum CblasLayout { cblas_row_major = 101 };
enum CblasTranspose { cblas_no_trans = 111, cblas_trans = 112 };

using SgemmFunction = void (*)(int layout, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                               int lda, const float *b, int ldb, float beta, float *c, int ldc);

// The selected provider's cblas_sgemm, or nullptr when no loaded library exports one.
SgemmFunction sgemm();

// The provider in use ("mkl", "openblas", "reference" for the wheel's own BLAS, or "none"), and whether MKL could
// be loaded.
const char *sgemm_name();
bool mkl_available();
// Selects "auto" (MKL when available), "mkl" or "openblas"; throws std::invalid_argument for unknown names and
// for MKL when it cannot be loaded (the message says why).
void select_sgemm(const char *name);

// Gives the BLAS library its own threads back (for MLX's operations) or takes them away (for ours).
void use_blas_threads(bool own_threads);

}  // namespace nucleus::kernels
