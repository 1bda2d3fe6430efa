// Elementwise primitives: one pass over the input on our threads, with the instruction set selected at build time.
#include "kernel_elementwise_op.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "kernel_primitive.hpp"
#include "mlx/primitives.h"

namespace mx = mlx::core;

namespace nucleus::kernels {

namespace {

void run_unary(Isa isa, UnaryOp op, const float *x, float *y, int64_t n) {
  switch (isa) {
    case Isa::avx512: avx512::unary(op, x, y, n); break;
    case Isa::avx2: avx2::unary(op, x, y, n); break;
    default: portable::unary(op, x, y, n); break;
  }
}

// Splits [0, n) into pieces of at least `grain` elements (multiples of 64) over our threads.
template <typename Body>
void parallel_range(int64_t n, int64_t grain, Body body) {
  int64_t pieces = std::max<int64_t>(1, std::min<int64_t>(n / grain, 4L * worker_count()));
  if (pieces == 1) return body(0, n);
  parallel_for(static_cast<int>(pieces), [&](int piece, int) {
    int64_t begin = n * piece / pieces / 64 * 64, end = piece + 1 == pieces ? n : n * (piece + 1) / pieces / 64 * 64;
    if (end > begin) body(begin, end);
  });
}

class CpuUnary : public mx::UnaryPrimitive {
 public:
  CpuUnary(mx::Stream stream, UnaryOp op, Isa isa) : mx::UnaryPrimitive(stream), op_(op), isa_(isa) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    std::vector<mx::array> temporaries;
    const bool donatable = inputs[0].is_donatable();  // checked before any copy of the handle adds a reference
    mx::array x = inputs[0];
    const bool copied = !x.flags().contiguous;
    if (copied) x = contiguous_copy(x, stream(), temporaries);
    // Same layout as the input (a dense transposed view stays one), in the input's buffer when it is ours to take.
    if (donatable && !copied) {
      out.copy_shared_buffer(x);
    } else {
      out.set_data(mx::allocator::malloc(x.data_size() * sizeof(float)), x.data_size(), x.strides(), x.flags());
    }
    const float *src = x.data<float>();
    float *dst = out.data<float>();
    int64_t n = static_cast<int64_t>(x.data_size());
    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_input_array(x);
    encoder.set_output_array(out);
    encoder.dispatch([src, dst, n, op = op_, isa = isa_]() {
      parallel_range(n, 1 << 15, [&](int64_t begin, int64_t end) { run_unary(isa, op, src + begin, dst + begin, end - begin); });
    });
    encoder.add_temporaries(std::move(temporaries));
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuUnary runs on the CPU only");
  }

  const char *name() const override { return "NucleusCpuUnary"; }

  bool is_equivalent(const mx::Primitive &other) const override {
    auto *that = dynamic_cast<const CpuUnary *>(&other);
    return that && that->op_ == op_ && that->isa_ == isa_;
  }

  std::vector<mx::Shape> output_shapes(const std::vector<mx::array> &inputs) override { return {inputs[0].shape()}; }

 private:
  UnaryOp op_;
  Isa isa_;
};

std::optional<mx::array> unary(UnaryOp op, const mx::array &x) {
  mx::Stream stream = mx::to_stream({});
  if (!runs_on_our_kernels(stream, {&x})) return std::nullopt;
  return mx::array(x.shape(), mx::float32, std::make_shared<CpuUnary>(stream, op, selected()), {x});
}

}  // namespace

mx::array sigmoid(const mx::array &x) {
  if (auto ours = unary(UnaryOp::sigmoid, x)) return *ours;
  return mx::sigmoid(x);
}

mx::array silu(const mx::array &x) {
  if (auto ours = unary(UnaryOp::silu, x)) return *ours;
  return mx::multiply(x, mx::sigmoid(x));  // MLX's C++ API has no silu
}

}  // namespace nucleus::kernels
