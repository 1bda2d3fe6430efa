// Scalar "vector" operations for the portable kernel bodies: plain C++ for any CPU, and the reference path the
// parity tests hold the SIMD variants to (exp is the C library's).

struct Vec {
  using reg = float;
  static constexpr int width = 1;
  static constexpr int qk_rows = 4;
  static constexpr int pv_rows = 4;
  static constexpr int pv_vectors = 4;

  static reg zero() { return 0.0f; }
  static reg set1(float x) { return x; }
  static reg load(const float *p) { return *p; }
  static void store(float *p, reg x) { *p = x; }
  static reg add(reg a, reg b) { return a + b; }
  static reg sub(reg a, reg b) { return a - b; }
  static reg mul(reg a, reg b) { return a * b; }
  static reg div(reg a, reg b) { return a / b; }
  static reg max(reg a, reg b) { return a > b ? a : b; }
  static reg fmadd(reg a, reg b, reg c) { return a * b + c; }
  static float reduce_max(reg x) { return x; }
  static float reduce_add(reg x) { return x; }
  static reg swap_pairs(reg x) { return x; }  // never used: a width-1 vector holds no pair
  static reg keep_where(reg x, const uint8_t *bytes, reg fill) { return *bytes ? x : fill; }
  static reg exp(reg x) { return std::exp(x); }
};
