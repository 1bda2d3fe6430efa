// A direct float32 product for few rows: c (=|+=) alpha · a·b with a [m, depth] and b [depth, n] row-major. BLAS
// first copies ("packs") b into its own layout, which for a handful of rows costs more than the product itself
// (the MoE experts at the release's width multiply 32 rows by 2048 × 2688 weights); this kernel streams b as it is.
#pragma once

#include <cstdint>

namespace nucleus::kernels {

#define NUCLEUS_GEMM_VARIANT(isa)                                                                                  \
  namespace isa {                                                                                                  \
  void small_gemm(const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int m, int n, \
                  int depth, float alpha, bool accumulate);                                                      \
  }
NUCLEUS_GEMM_VARIANT(portable)
NUCLEUS_GEMM_VARIANT(avx2)
NUCLEUS_GEMM_VARIANT(avx512)
#undef NUCLEUS_GEMM_VARIANT

}  // namespace nucleus::kernels
