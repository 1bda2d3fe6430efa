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
