// bfloat16 → float32 as a primitive on our threads. A bfloat16 is the top half of a float32, so widening is exact:
// the 16 bits moved up, the low 16 bits zero (NaN and infinities included).
#include "kernel_widen_op.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "kernel_primitive.hpp"
#include "mlx/primitives.h"

namespace mx = mlx::core;

namespace nucleus::kernels {

namespace {

void widen(const uint16_t *src, float *dst, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    uint32_t bits = static_cast<uint32_t>(src[i]) << 16;
    std::memcpy(dst + i, &bits, sizeof(bits));
  }
}

class CpuWidenBFloat16 : public mx::UnaryPrimitive {
 public:
  explicit CpuWidenBFloat16(mx::Stream stream) : mx::UnaryPrimitive(stream) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    const mx::array &x = inputs[0];
    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_input_array(x);
    encoder.set_output_array(out);
    out.set_data(mx::allocator::malloc(out.nbytes()));
    const auto *src = reinterpret_cast<const uint16_t *>(x.data<mx::bfloat16_t>());
    float *dst = out.data<float>();
    const int64_t n = static_cast<int64_t>(x.size());
    encoder.dispatch([src, dst, n]() {
      parallel_range(n, 1 << 16, [&](int64_t begin, int64_t end) { widen(src + begin, dst + begin, end - begin); });
    });
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuWidenBFloat16 runs on the CPU only");
  }

  const char *name() const override { return "NucleusCpuWidenBFloat16"; }

  bool is_equivalent(const mx::Primitive &other) const override {
    return dynamic_cast<const CpuWidenBFloat16 *>(&other) != nullptr;
  }

  std::vector<mx::Shape> output_shapes(const std::vector<mx::array> &inputs) override { return {inputs[0].shape()}; }
};

}  // namespace

std::optional<mx::array> try_widen_bfloat16(const mx::array &x, mx::Dtype to) {
  mx::Stream stream = mx::to_stream({});
  if (to != mx::float32 || x.dtype() != mx::bfloat16 || stream.device != mx::Device::cpu || selected() == Isa::mlx) {
    return std::nullopt;
  }
  // Only arrays already computed and laid out densely (stored weights are); anything else keeps MLX's cast, which
  // handles any strides.
  if (!x.is_available() || !x.flags().row_contiguous) return std::nullopt;
  return mx::array(x.shape(), mx::float32, std::make_shared<CpuWidenBFloat16>(stream), {x});
}

}  // namespace nucleus::kernels
