// Elementwise kernel bodies over the `Vec` operations of the enclosing namespace (see kernel_elementwise.hpp);
// included by kernel_isa_<isa>.cpp like kernel_attention_body.h.

namespace {

template <UnaryOp op>
inline Vec::reg apply(Vec::reg x) {
  // sigmoid(x) = 1 / (1 + e^−x); silu(x) = x · sigmoid(x) = x / (1 + e^−x). For large |x| the exp saturates to
  // 0 or to e^88, so both stay finite and tend to their limits.
  Vec::reg denominator = Vec::add(Vec::set1(1.0f), Vec::exp(Vec::sub(Vec::zero(), x)));
  if constexpr (op == UnaryOp::sigmoid) return Vec::div(Vec::set1(1.0f), denominator);
  return Vec::div(x, denominator);
}

template <UnaryOp op>
void map(const float *x, float *y, int64_t n) {
  int64_t i = 0;
  for (; i + Vec::width <= n; i += Vec::width) Vec::store(y + i, apply<op>(Vec::load(x + i)));
  for (; i < n; i++) {
    float denominator = 1.0f + std::exp(-x[i]);
    y[i] = op == UnaryOp::sigmoid ? 1.0f / denominator : x[i] / denominator;
  }
}

}  // namespace

void unary(UnaryOp op, const float *x, float *y, int64_t n) {
  switch (op) {
    case UnaryOp::sigmoid: map<UnaryOp::sigmoid>(x, y, n); break;
    case UnaryOp::silu: map<UnaryOp::silu>(x, y, n); break;
  }
}

namespace {

template <BinaryOp op>
inline float scalar_op(float a, float b) {
  if constexpr (op == BinaryOp::add) return a + b;
  if constexpr (op == BinaryOp::subtract) return a - b;
  if constexpr (op == BinaryOp::multiply) return a * b;
  return a / b;
}

template <BinaryOp op>
inline Vec::reg vector_op(Vec::reg a, Vec::reg b) {
  if constexpr (op == BinaryOp::add) return Vec::add(a, b);
  if constexpr (op == BinaryOp::subtract) return Vec::sub(a, b);
  if constexpr (op == BinaryOp::multiply) return Vec::mul(a, b);
  return Vec::div(a, b);
}

template <BinaryOp op, bool a_steps, bool b_steps>
void binary_run(const float *a, const float *b, float *out, int64_t n) {
  Vec::reg a_fixed = Vec::set1(*a), b_fixed = Vec::set1(*b);
  int64_t i = 0;
  for (; i + Vec::width <= n; i += Vec::width) {
    Vec::reg x = a_steps ? Vec::load(a + i) : a_fixed;
    Vec::reg y = b_steps ? Vec::load(b + i) : b_fixed;
    Vec::store(out + i, vector_op<op>(x, y));
  }
  for (; i < n; i++) out[i] = scalar_op<op>(a_steps ? a[i] : *a, b_steps ? b[i] : *b);
}

template <BinaryOp op>
void binary_dispatch(const float *a, int64_t a_step, const float *b, int64_t b_step, float *out, int64_t n) {
  if (a_step && b_step) return binary_run<op, true, true>(a, b, out, n);
  if (a_step) return binary_run<op, true, false>(a, b, out, n);
  if (b_step) return binary_run<op, false, true>(a, b, out, n);
  return binary_run<op, false, false>(a, b, out, n);
}

// Σ x[i] and Σ (x[i] − shift)² over one row.
float row_sum(const float *x, int64_t n) {
  Vec::reg acc = Vec::zero();
  float tail = 0;
  int64_t i = 0;
  for (; i + Vec::width <= n; i += Vec::width) acc = Vec::add(acc, Vec::load(x + i));
  for (; i < n; i++) tail += x[i];
  return Vec::reduce_add(acc) + tail;
}

float row_squares(const float *x, int64_t n, float shift) {
  Vec::reg acc = Vec::zero(), s = Vec::set1(shift);
  float tail = 0;
  int64_t i = 0;
  for (; i + Vec::width <= n; i += Vec::width) {
    Vec::reg d = Vec::sub(Vec::load(x + i), s);
    acc = Vec::fmadd(d, d, acc);
  }
  for (; i < n; i++) tail += (x[i] - shift) * (x[i] - shift);
  return Vec::reduce_add(acc) + tail;
}

// y = (x − shift) · scale [· w] [+ b]
void row_affine(const float *x, float *y, int64_t n, float shift, float scale, const float *w, const float *b) {
  Vec::reg s = Vec::set1(shift), k = Vec::set1(scale);
  int64_t i = 0;
  for (; i + Vec::width <= n; i += Vec::width) {
    Vec::reg v = Vec::mul(Vec::sub(Vec::load(x + i), s), k);
    if (w) v = Vec::mul(v, Vec::load(w + i));
    if (b) v = Vec::add(v, Vec::load(b + i));
    Vec::store(y + i, v);
  }
  for (; i < n; i++) {
    float v = (x[i] - shift) * scale;
    if (w) v *= w[i];
    if (b) v += b[i];
    y[i] = v;
  }
}

}  // namespace

void binary(BinaryOp op, const float *a, int64_t a_step, const float *b, int64_t b_step, float *out, int64_t n) {
  switch (op) {
    case BinaryOp::add: binary_dispatch<BinaryOp::add>(a, a_step, b, b_step, out, n); break;
    case BinaryOp::subtract: binary_dispatch<BinaryOp::subtract>(a, a_step, b, b_step, out, n); break;
    case BinaryOp::multiply: binary_dispatch<BinaryOp::multiply>(a, a_step, b, b_step, out, n); break;
    case BinaryOp::divide: binary_dispatch<BinaryOp::divide>(a, a_step, b, b_step, out, n); break;
  }
}

void layer_norm(const float *x, int64_t ld, float *y, int64_t rows, int64_t n, const float *w, const float *b,
                float eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float *row = x + r * ld;
    // As MLX's own layer norm: the mean first, then the mean of squared deviations from it.
    float mean = row_sum(row, n) / static_cast<float>(n);
    float variance = row_squares(row, n, mean) / static_cast<float>(n);
    row_affine(row, y + r * n, n, mean, 1.0f / std::sqrt(variance + eps), w, b);
  }
}

void rms_norm(const float *x, int64_t ld, float *y, int64_t rows, int64_t n, const float *w, float eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float *row = x + r * ld;
    float mean_square = row_squares(row, n, 0.0f) / static_cast<float>(n);
    row_affine(row, y + r * n, n, 0.0f, 1.0f / std::sqrt(mean_square + eps), w, nullptr);
  }
}

void rotate_pairs(const float *x, const float *c, const float *s, float *out, int64_t n) {
  int64_t i = 0;
  if constexpr (Vec::width >= 2) {
    for (; i + Vec::width <= n; i += Vec::width) {
      Vec::reg v = Vec::load(x + i);
      Vec::store(out + i, Vec::fmadd(Vec::swap_pairs(v), Vec::load(s + i), Vec::mul(v, Vec::load(c + i))));
    }
  }
  for (; i < n; i++) out[i] = x[i] * c[i] + x[i ^ 1] * s[i];
}

void row_l2_norms(const float *x, int64_t ld, float *out, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; r++) out[r] = std::sqrt(row_squares(x + r * ld, n, 0.0f));
}

// (word & exponent) ^ exponent is 0 exactly when every exponent bit is set (NaN, infinity). The minimum over a
// block has no early exit, so the loop vectorises; words are read with memcpy, so any alignment is fine.
template <typename Word>
bool scan_exponents(const unsigned char *bytes, int64_t n, Word exponent) {
  for (int64_t start = 0; start < n; start += 4096) {
    const int64_t end = std::min<int64_t>(n, start + 4096);
    Word smallest = exponent;
    for (int64_t i = start; i < end; i++) {
      Word word;
      std::memcpy(&word, bytes + i * static_cast<int64_t>(sizeof(Word)), sizeof(Word));
      const Word masked = static_cast<Word>((word & exponent) ^ exponent);
      smallest = masked < smallest ? masked : smallest;
    }
    if (smallest == 0) return false;
  }
  return true;
}

bool none_has_exponent(const unsigned char *bytes, int64_t n, uint32_t exponent) {
  return scan_exponents(bytes, n, exponent);
}

bool none_has_exponent(const unsigned char *bytes, int64_t n, uint16_t exponent) {
  return scan_exponents(bytes, n, exponent);
}
