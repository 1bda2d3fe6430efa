// AVX-512 vector operations for the kernel bodies (included inside a namespace compiled for avx512f).
// Needs <immintrin.h>.
#include "kernel_exp_constants.h"

struct Vec {
  using reg = __m512;
  static constexpr int width = 16;
  // Register tiles: 12×32 scores (24 accumulators), 6×64 outputs (24 accumulators) of the 32 registers.
  static constexpr int qk_rows = 12;
  static constexpr int pv_rows = 6;
  static constexpr int pv_vectors = 4;

  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float x) { return _mm512_set1_ps(x); }
  static reg load(const float *p) { return _mm512_loadu_ps(p); }
  static void store(float *p, reg x) { _mm512_storeu_ps(p, x); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static float reduce_max(reg x) { return _mm512_reduce_max_ps(x); }
  static float reduce_add(reg x) { return _mm512_reduce_add_ps(x); }

  // (x0, x1, x2, x3, ...) -> (x1, x0, x3, x2, ...)
  static reg swap_pairs(reg x) { return _mm512_permute_ps(x, 0xB1); }

  // Lanes whose byte in `bytes` is 0 take `fill`.
  static reg keep_where(reg x, const uint8_t *bytes, reg fill) {
    __m512i flags = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(bytes)));
    __mmask16 keep = _mm512_test_epi32_mask(flags, flags);
    return _mm512_mask_blend_ps(keep, fill, x);
  }

  static reg exp(reg x) {
    __mmask16 underflow = _mm512_cmp_ps_mask(x, _mm512_set1_ps(exp_min_input), _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(exp_min_input)), _mm512_set1_ps(exp_max_input));
    reg n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(exp_log2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    reg r = _mm512_fnmadd_ps(n, _mm512_set1_ps(exp_ln2_high), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(exp_ln2_low), r);
    reg p = _mm512_set1_ps(exp_taylor[7]);
    for (int k = 6; k >= 0; k--) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(exp_taylor[k]));
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    reg result = _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
    return _mm512_mask_blend_ps(underflow, result, _mm512_setzero_ps());
  }
};
