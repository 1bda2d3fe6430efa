// AVX2 + FMA vector operations for the kernel bodies (included inside a namespace compiled for avx2,fma).
// Needs <immintrin.h>.
#include "kernel_exp_constants.h"

struct Vec {
  using reg = __m256;
  static constexpr int width = 8;
  // Register tiles: 6×16 scores and 6×16 outputs (12 accumulators each) of the 16 registers.
  static constexpr int qk_rows = 6;
  static constexpr int pv_rows = 6;
  static constexpr int pv_vectors = 2;

  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float x) { return _mm256_set1_ps(x); }
  static reg load(const float *p) { return _mm256_loadu_ps(p); }
  static void store(float *p, reg x) { _mm256_storeu_ps(p, x); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  static reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }

  static float reduce_max(reg x) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
  }
  static float reduce_add(reg x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }

  // (x0, x1, x2, x3, ...) -> (x1, x0, x3, x2, ...)
  static reg swap_pairs(reg x) { return _mm256_permute_ps(x, 0xB1); }

  // Lanes whose byte in `bytes` is 0 take `fill`.
  static reg keep_where(reg x, const uint8_t *bytes, reg fill) {
    __m256i flags = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(bytes)));
    __m256 masked = _mm256_castsi256_ps(_mm256_cmpeq_epi32(flags, _mm256_setzero_si256()));
    return _mm256_blendv_ps(x, fill, masked);
  }

  static reg exp(reg x) {
    __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(exp_min_input), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(exp_min_input)), _mm256_set1_ps(exp_max_input));
    reg n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(exp_log2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    reg r = _mm256_fnmadd_ps(n, _mm256_set1_ps(exp_ln2_high), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(exp_ln2_low), r);
    reg p = _mm256_set1_ps(exp_taylor[7]);
    for (int k = 6; k >= 0; k--) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_taylor[k]));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    reg result = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
    return _mm256_andnot_ps(underflow, result);
  }
};
