// Elementwise float32 functions with a vectorised exp (MLX's CPU wheel evaluates exp one element at a time).
#pragma once

#include <cstdint>

namespace nucleus::kernels {

enum class UnaryOp { sigmoid = 0, silu };

// y[i] = op(x[i]) for i < n, on the calling thread; one variant per instruction set (kernel_isa_<isa>.cpp).
#define NUCLEUS_ELEMENTWISE_VARIANT(isa) \
  namespace isa {                        \
  void unary(UnaryOp op, const float *x, float *y, int64_t n); \
  }
NUCLEUS_ELEMENTWISE_VARIANT(portable)
NUCLEUS_ELEMENTWISE_VARIANT(avx2)
NUCLEUS_ELEMENTWISE_VARIANT(avx512)
#undef NUCLEUS_ELEMENTWISE_VARIANT

}  // namespace nucleus::kernels
