// Elementwise float32 kernels: sigmoid and silu with a vectorised exp (MLX's CPU wheel evaluates exp one element at
// a time), binary arithmetic with broadcasting, and row normalisations. MLX's CPU backend runs all of these on
// one thread without SIMD; ours are vectorised and the primitives (kernel_elementwise_op.cpp) split them over our
// threads.
#pragma once

#include <cstdint>

namespace nucleus::kernels {

enum class UnaryOp { sigmoid = 0, silu };
enum class BinaryOp { add = 0, subtract, multiply, divide };

// One variant per instruction set (kernel_isa_<isa>.cpp); each runs on the calling thread.
#define NUCLEUS_ELEMENTWISE_VARIANT(isa)                                                                        \
  namespace isa {                                                                                               \
  /* y[i] = op(x[i]) for i < n */                                                                               \
  void unary(UnaryOp op, const float *x, float *y, int64_t n);                                                  \
  /* out[i] = a[i·a_step] op b[i·b_step] for i < n, steps 0 (broadcast) or 1 */                                 \
  void binary(BinaryOp op, const float *a, int64_t a_step, const float *b, int64_t b_step, float *out, int64_t n); \
  /* Normalises `rows` rows of n (row stride ld in x, n in y): layer norm (x − mean) / √(var + eps) · w + b,     \
     weight and bias optional (null) */                                                                         \
  void layer_norm(const float *x, int64_t ld, float *y, int64_t rows, int64_t n, const float *w, const float *b,  \
                  float eps);                                                                                   \
  /* RMS norm x / √(mean(x²) + eps) · w, weight optional (null) */                                              \
  void rms_norm(const float *x, int64_t ld, float *y, int64_t rows, int64_t n, const float *w, float eps);         \
  /* out[r] = √(Σ x[r][i]²) for `rows` rows of n (row stride ld) */                                              \
  void row_l2_norms(const float *x, int64_t ld, float *out, int64_t rows, int64_t n);                              \
  /* out[i] = x[i] · c[i] + x[i xor 1] · s[i] for i < n (n even): rotary embedding of interleaved pairs */       \
  void rotate_pairs(const float *x, const float *c, const float *s, float *out, int64_t n);                       \
  /* Whether none of the n words at `bytes` (any alignment) has every bit of `exponent` set: no NaN or infinity */ \
  bool none_has_exponent(const unsigned char *bytes, int64_t n, uint32_t exponent);                               \
  bool none_has_exponent(const unsigned char *bytes, int64_t n, uint16_t exponent);                               \
  }
NUCLEUS_ELEMENTWISE_VARIANT(portable)
NUCLEUS_ELEMENTWISE_VARIANT(avx2)
NUCLEUS_ELEMENTWISE_VARIANT(avx512)
#undef NUCLEUS_ELEMENTWISE_VARIANT

}  // namespace nucleus::kernels
