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

void run_binary(Isa isa, BinaryOp op, const float *a, int64_t as, const float *b, int64_t bs, float *out, int64_t n) {
  switch (isa) {
    case Isa::avx512: avx512::binary(op, a, as, b, bs, out, n); break;
    case Isa::avx2: avx2::binary(op, a, as, b, bs, out, n); break;
    default: portable::binary(op, a, as, b, bs, out, n); break;
  }
}

void run_rotate(Isa isa, const float *x, const float *c, const float *s, float *out, int64_t n) {
  switch (isa) {
    case Isa::avx512: avx512::rotate_pairs(x, c, s, out, n); break;
    case Isa::avx2: avx2::rotate_pairs(x, c, s, out, n); break;
    default: portable::rotate_pairs(x, c, s, out, n); break;
  }
}

void run_l2(Isa isa, const float *x, int64_t ld, float *out, int64_t rows, int64_t n) {
  switch (isa) {
    case Isa::avx512: avx512::row_l2_norms(x, ld, out, rows, n); break;
    case Isa::avx2: avx2::row_l2_norms(x, ld, out, rows, n); break;
    default: portable::row_l2_norms(x, ld, out, rows, n); break;
  }
}

void run_norm(Isa isa, bool layer, const float *x, int64_t ld, float *y, int64_t rows, int64_t n, const float *w,
              const float *b, float eps) {
  switch (isa) {
    case Isa::avx512: layer ? avx512::layer_norm(x, ld, y, rows, n, w, b, eps) : avx512::rms_norm(x, ld, y, rows, n, w, eps); break;
    case Isa::avx2: layer ? avx2::layer_norm(x, ld, y, rows, n, w, b, eps) : avx2::rms_norm(x, ld, y, rows, n, w, eps); break;
    default: layer ? portable::layer_norm(x, ld, y, rows, n, w, b, eps) : portable::rms_norm(x, ld, y, rows, n, w, eps); break;
  }
}

template <typename Word>
bool run_exponent_scan(Isa isa, const void *data, size_t byte_count, Word exponent) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  const auto n = static_cast<int64_t>(byte_count / sizeof(Word));
  switch (isa) {
    case Isa::avx512: return avx512::none_has_exponent(bytes, n, exponent);
    case Isa::avx2: return avx2::none_has_exponent(bytes, n, exponent);
    default: return portable::none_has_exponent(bytes, n, exponent);
  }
}

Isa scan_isa() { return selected() == Isa::mlx ? best_supported() : selected(); }

class CpuUnary : public mx::UnaryPrimitive {
 public:
  CpuUnary(mx::Stream stream, UnaryOp op, Isa isa) : mx::UnaryPrimitive(stream), op_(op), isa_(isa) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    const mx::array &x = inputs[0];
    const float *src = x.data<float>();
    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_input_array(x);
    encoder.set_output_array(out);
    if (x.flags().contiguous) {
      // Same layout as the input (a dense transposed view stays one), in the input's buffer when it is ours to take.
      if (x.is_donatable()) {
        out.copy_shared_buffer(x);
      } else {
        out.set_data(mx::allocator::malloc(x.data_size() * sizeof(float)), x.data_size(), x.strides(), x.flags());
      }
      float *dst = out.data<float>();
      int64_t n = static_cast<int64_t>(x.data_size());
      encoder.dispatch([src, dst, n, op = op_, isa = isa_]() {
        parallel_range(n, 1 << 15, [&](int64_t begin, int64_t end) { run_unary(isa, op, src + begin, dst + begin, end - begin); });
      });
      return;
    }
    // A view with gaps (e.g. one half of a split): row by row into a row-major output, copying first only when
    // the last axis itself is strided.
    std::vector<mx::array> temporaries;
    mx::array rows_of = x;
    if (x.strides().back() != 1 && x.shape().back() != 1) {
      rows_of = contiguous_copy(x, stream(), temporaries);
      src = rows_of.data<float>();
    }
    out.set_data(mx::allocator::malloc(out.nbytes()));
    float *dst = out.data<float>();
    const int64_t width = x.shape().back(), rows = width == 0 ? 0 : static_cast<int64_t>(x.size()) / width;
    mx::Shape shape = rows_of.shape();
    mx::Strides strides = rows_of.strides();
    const int axes = x.ndim() - 1;
    encoder.dispatch([=, op = op_, isa = isa_]() {
      parallel_range(rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(width, 1)), [&](int64_t first, int64_t last) {
        for (int64_t row = first; row < last; row++) {
          run_unary(isa, op, src + strided_offset(row, shape, strides, axes), dst + row * width, width);
        }
      }, 1);
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

// a op b over the broadcast shape: axes are merged where both inputs allow it, so that the kernel runs over rows
// as long as possible, each input stepping by 1 or staying put (0) along a row.
class CpuBinary : public mx::UnaryPrimitive {
 public:
  CpuBinary(mx::Stream stream, BinaryOp op, Isa isa) : mx::UnaryPrimitive(stream), op_(op), isa_(isa) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    std::vector<mx::array> temporaries;
    mx::array a = inputs[0], b = inputs[1];
    auto steps_ok = [](const mx::array &x) { return x.ndim() == 0 || x.strides().back() <= 1 || x.shape().back() == 1; };
    if (!steps_ok(a)) a = contiguous_copy(a, stream(), temporaries);
    if (!steps_ok(b)) b = contiguous_copy(b, stream(), temporaries);

    // Reuse an input's buffer when it has the output's full layout and nothing else holds it.
    const mx::array *donor = nullptr;
    for (const mx::array *x : {&inputs[0], &inputs[1]}) {
      if (!donor && x->is_donatable() && x->flags().row_contiguous && x->size() == out.size()) donor = x;
    }
    if (donor) {
      out.copy_shared_buffer(*donor);
    } else {
      out.set_data(mx::allocator::malloc(out.nbytes()));
    }

    // Merge axes (from the last) while both inputs stay regular across the boundary; drop unit axes.
    mx::Shape shape;
    mx::Strides a_strides, b_strides;
    for (int axis = 0; axis < out.ndim(); axis++) {
      if (out.shape(axis) == 1) continue;
      int64_t as = a.strides()[axis], bs = b.strides()[axis];
      if (!shape.empty() && a_strides.back() == as * out.shape(axis) && b_strides.back() == bs * out.shape(axis)) {
        shape.back() *= out.shape(axis);
        a_strides.back() = as;
        b_strides.back() = bs;
      } else {
        shape.push_back(out.shape(axis));
        a_strides.push_back(as);
        b_strides.push_back(bs);
      }
    }
    if (shape.empty()) {
      shape.push_back(1);
      a_strides.push_back(0);
      b_strides.push_back(0);
    }
    const int64_t n = shape.back(), rows = static_cast<int64_t>(out.size()) / n;
    const int axes = static_cast<int>(shape.size()) - 1;
    const float *pa = a.data<float>(), *pb = b.data<float>();
    float *po = out.data<float>();
    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_output_array(out);
    encoder.dispatch([=, op = op_, isa = isa_]() {
      const int64_t a_step = a_strides.back(), b_step = b_strides.back();
      int64_t grain = std::max<int64_t>(1, (1 << 15) / n);
      parallel_range(rows, grain, [&](int64_t first, int64_t last) {
        for (int64_t row = first; row < last; row++) {
          int64_t at = strided_offset(row, shape, a_strides, axes), bt = strided_offset(row, shape, b_strides, axes);
          run_binary(isa, op, pa + at, a_step, pb + bt, b_step, po + row * n, n);
        }
      }, 1);
    });
    encoder.add_temporaries(std::move(temporaries));
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuBinary runs on the CPU only");
  }

  const char *name() const override { return "NucleusCpuBinary"; }

  bool is_equivalent(const mx::Primitive &other) const override {
    auto *that = dynamic_cast<const CpuBinary *>(&other);
    return that && that->op_ == op_ && that->isa_ == isa_;
  }

 private:
  BinaryOp op_;
  Isa isa_;
};

// Layer or RMS normalisation over the last axis, one row at a time, rows shared over our threads.
class CpuNorm : public mx::UnaryPrimitive {
 public:
  CpuNorm(mx::Stream stream, bool layer, bool weighted, bool biased, float eps, Isa isa)
      : mx::UnaryPrimitive(stream), layer_(layer), weighted_(weighted), biased_(biased), eps_(eps), isa_(isa) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    std::vector<mx::array> temporaries;
    mx::array x = inputs[0];
    if (!x.flags().row_contiguous) x = contiguous_copy(x, stream(), temporaries);
    out.set_data(mx::allocator::malloc(out.nbytes()));
    const int64_t n = x.shape().back(), rows = n == 0 ? 0 : static_cast<int64_t>(x.size()) / n;
    const float *px = x.data<float>();
    const float *w = weighted_ ? inputs[1].data<float>() : nullptr;
    const float *b = biased_ ? inputs[2].data<float>() : nullptr;
    float *py = out.data<float>();
    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_output_array(out);
    encoder.dispatch([=, layer = layer_, eps = eps_, isa = isa_]() {
      parallel_range(rows, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(n, 1)), [&](int64_t first, int64_t last) {
        run_norm(isa, layer, px + first * n, n, py + first * n, last - first, n, w, b, eps);
      }, 1);
    });
    encoder.add_temporaries(std::move(temporaries));
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuNorm runs on the CPU only");
  }

  const char *name() const override { return "NucleusCpuNorm"; }

  bool is_equivalent(const mx::Primitive &other) const override {
    auto *that = dynamic_cast<const CpuNorm *>(&other);
    return that && that->layer_ == layer_ && that->weighted_ == weighted_ && that->biased_ == biased_ &&
           that->eps_ == eps_ && that->isa_ == isa_;
  }

  std::vector<mx::Shape> output_shapes(const std::vector<mx::array> &inputs) override { return {inputs[0].shape()}; }

 private:
  bool layer_, weighted_, biased_;
  float eps_;
  Isa isa_;
};

std::optional<mx::array> unary(UnaryOp op, const mx::array &x) {
  mx::Stream stream = mx::to_stream({});
  if (!runs_on_our_kernels(stream, {&x})) return std::nullopt;
  return mx::array(x.shape(), mx::float32, std::make_shared<CpuUnary>(stream, op, selected()), {x});
}

// √(Σ x²) over the last axis, row by row.
class CpuRowL2 : public mx::UnaryPrimitive {
 public:
  CpuRowL2(mx::Stream stream, Isa isa) : mx::UnaryPrimitive(stream), isa_(isa) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    std::vector<mx::array> temporaries;
    mx::array x = inputs[0];
    if (!x.flags().row_contiguous) x = contiguous_copy(x, stream(), temporaries);
    out.set_data(mx::allocator::malloc(out.nbytes()));
    const int64_t n = x.shape().back(), rows = static_cast<int64_t>(out.size());
    const float *px = x.data<float>();
    float *py = out.data<float>();
    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_output_array(out);
    encoder.dispatch([=, isa = isa_]() {
      parallel_range(rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(n, 1)), [&](int64_t first, int64_t last) {
        run_l2(isa, px + first * n, n, py + first, last - first, n);
      }, 1);
    });
    encoder.add_temporaries(std::move(temporaries));
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuRowL2 runs on the CPU only");
  }

  const char *name() const override { return "NucleusCpuRowL2"; }

  bool is_equivalent(const mx::Primitive &other) const override {
    auto *that = dynamic_cast<const CpuRowL2 *>(&other);
    return that && that->isa_ == isa_;
  }

 private:
  Isa isa_;
};

// x · cos + swap_pairs(x) · sin with cos and sin broadcast to x (a rotary embedding of interleaved pairs).
class CpuRotatePairs : public mx::UnaryPrimitive {
 public:
  CpuRotatePairs(mx::Stream stream, Isa isa) : mx::UnaryPrimitive(stream), isa_(isa) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    std::vector<mx::array> temporaries;
    std::vector<mx::array> views;
    for (const mx::array &input : inputs) {
      views.push_back(input.strides().back() == 1 ? input : contiguous_copy(input, stream(), temporaries));
    }
    out.set_data(mx::allocator::malloc(out.nbytes()));
    const int64_t width = out.shape().back(), rows = static_cast<int64_t>(out.size()) / width;
    const int axes = out.ndim() - 1;
    mx::Shape shape = out.shape();
    mx::Strides xs = views[0].strides(), cs = views[1].strides(), ss = views[2].strides();
    const float *x = views[0].data<float>(), *c = views[1].data<float>(), *s = views[2].data<float>();
    float *y = out.data<float>();
    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_output_array(out);
    encoder.dispatch([=, isa = isa_]() {
      parallel_range(rows, std::max<int64_t>(1, (1 << 15) / width), [&](int64_t first, int64_t last) {
        for (int64_t row = first; row < last; row++) {
          run_rotate(isa, x + strided_offset(row, shape, xs, axes), c + strided_offset(row, shape, cs, axes),
                     s + strided_offset(row, shape, ss, axes), y + row * width, width);
        }
      }, 1);
    });
    encoder.add_temporaries(std::move(temporaries));
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuRotatePairs runs on the CPU only");
  }

  const char *name() const override { return "NucleusCpuRotatePairs"; }

  bool is_equivalent(const mx::Primitive &other) const override {
    auto *that = dynamic_cast<const CpuRotatePairs *>(&other);
    return that && that->isa_ == isa_;
  }

  std::vector<mx::Shape> output_shapes(const std::vector<mx::array> &inputs) override { return {inputs[0].shape()}; }

 private:
  Isa isa_;
};

std::optional<mx::array> ours_binary(BinaryOp op, const mx::array &a, const mx::array &b) {
  mx::Stream stream = mx::to_stream({});
  if (!runs_on_our_kernels(stream, {&a, &b})) return std::nullopt;
  mx::Shape shape = mx::broadcast_shapes(a.shape(), b.shape());
  if (shape.size() > 0 && std::any_of(shape.begin(), shape.end(), [](int d) { return d == 0; })) return std::nullopt;
  std::vector<mx::array> inputs = {mx::broadcast_to(a, shape, stream), mx::broadcast_to(b, shape, stream)};
  return mx::array(shape, mx::float32, std::make_shared<CpuBinary>(stream, op, selected()), std::move(inputs));
}

bool fits_last_axis(const std::optional<mx::array> &v, const mx::array &x) {
  return !v || (v->dtype() == mx::float32 && v->ndim() == 1 && v->size() == static_cast<size_t>(x.shape().back()));
}

std::optional<mx::array> ours_norm(bool layer, const mx::array &x, const std::optional<mx::array> &weight,
                              const std::optional<mx::array> &bias, float eps) {
  mx::Stream stream = mx::to_stream({});
  if (!runs_on_our_kernels(stream, {&x}) || x.ndim() == 0 || x.size() == 0 || !fits_last_axis(weight, x) ||
      !fits_last_axis(bias, x)) {
    return std::nullopt;
  }
  std::vector<mx::array> inputs = {x};
  inputs.push_back(weight ? *weight : mx::array(1.0f));
  inputs.push_back(bias ? *bias : mx::array(0.0f));
  return mx::array(x.shape(), mx::float32,
                   std::make_shared<CpuNorm>(stream, layer, weight.has_value(), bias.has_value(), eps, selected()),
                   std::move(inputs));
}

}  // namespace

mx::array rotate_pairs(const mx::array &x, const mx::array &cos, const mx::array &sin) {
  if (x.ndim() == 0 || x.shape().back() % 2 != 0) {
    throw std::invalid_argument("rotate_pairs needs an even last axis (pairs of elements)");
  }
  mx::Stream stream = mx::to_stream({});
  mx::Shape shape = mx::broadcast_shapes(mx::broadcast_shapes(x.shape(), cos.shape()), sin.shape());
  if (shape != x.shape()) throw std::invalid_argument("rotate_pairs: cos and sin must broadcast to x's shape");
  if (runs_on_our_kernels(stream, {&x, &cos, &sin}) && x.size() > 0) {
    return mx::array(x.shape(), mx::float32, std::make_shared<CpuRotatePairs>(stream, selected()),
                     {x, mx::broadcast_to(cos, shape, stream), mx::broadcast_to(sin, shape, stream)});
  }
  // MLX's own operations: the partner of element i is element i xor 1.
  const int width = x.shape().back();
  std::vector<uint32_t> partner(width);
  for (int i = 0; i < width; i++) partner[i] = static_cast<uint32_t>(i ^ 1);
  mx::array swapped = mx::take(x, mx::array(partner.data(), {width}, mx::uint32), -1);
  return mx::add(mx::multiply(x, cos), mx::multiply(swapped, sin));
}

std::optional<mx::array> try_binary(BinaryOp op, const mx::array &a, const mx::array &b) { return ours_binary(op, a, b); }

std::optional<mx::array> try_l2_norm(const mx::array &x, const std::vector<int> &axes, bool keepdims) {
  mx::Stream stream = mx::to_stream({});
  if (!runs_on_our_kernels(stream, {&x}) || x.ndim() == 0 || x.size() == 0 || axes.size() != 1 ||
      (axes[0] != -1 && axes[0] != x.ndim() - 1)) {
    return std::nullopt;
  }
  mx::Shape shape = x.shape();
  if (keepdims) {
    shape.back() = 1;
  } else {
    shape.pop_back();
  }
  return mx::array(std::move(shape), mx::float32, std::make_shared<CpuRowL2>(stream, selected()), {x});
}

std::optional<mx::array> try_layer_norm(const mx::array &x, const std::optional<mx::array> &weight,
                                        const std::optional<mx::array> &bias, float eps) {
  return ours_norm(true, x, weight, bias, eps);
}

std::optional<mx::array> try_rms_norm(const mx::array &x, const std::optional<mx::array> &weight, float eps) {
  return ours_norm(false, x, weight, std::nullopt, eps);
}

mx::array sigmoid(const mx::array &x) {
  if (auto ours = unary(UnaryOp::sigmoid, x)) return *ours;
  return mx::sigmoid(x);
}

mx::array silu(const mx::array &x) {
  if (auto ours = unary(UnaryOp::silu, x)) return *ours;
  return mx::multiply(x, mx::sigmoid(x));  // MLX's C++ API has no silu
}

bool none_has_exponent(const void *data, size_t byte_count, uint32_t exponent) {
  return run_exponent_scan(scan_isa(), data, byte_count, exponent);
}

bool none_has_exponent(const void *data, size_t byte_count, uint16_t exponent) {
  return run_exponent_scan(scan_isa(), data, byte_count, exponent);
}

}  // namespace nucleus::kernels
