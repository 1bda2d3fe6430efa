// Gathers and scatter-adds of float32 rows on our threads. MLX's CPU versions compute every element's source
// and destination through generic index arithmetic on one thread; the models use the simple cases: whole rows
// picked by a list of indices (the MoE experts' tokens), a permutation along the last axis (RoPE's pair
// partners), and rows added back at their indices (the MoE outputs).
//
// Indices follow MLX: negative values count from the end of the axis. Values outside the axis (which MLX leaves
// undefined) are clamped to it, so that no read or write leaves the arrays.
#include "kernel_indexing_op.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "kernel_primitive.hpp"
#include "mlx/primitives.h"

namespace mx = mlx::core;

namespace nucleus::kernels {

namespace {

inline int64_t clamp_index(int64_t index, int64_t extent) {
  if (index < 0) index += extent;
  return std::min<int64_t>(std::max<int64_t>(index, 0), extent - 1);
}

// The indices as int64, read when the kernel runs.
std::vector<int64_t> read_indices(const mx::array &indices, int64_t extent) {
  std::vector<int64_t> values(indices.size());
  if (indices.dtype() == mx::uint32) {
    const uint32_t *p = indices.data<uint32_t>();
    for (size_t i = 0; i < values.size(); i++) values[i] = clamp_index(p[i], extent);
  } else {
    const int32_t *p = indices.data<int32_t>();
    for (size_t i = 0; i < values.size(); i++) values[i] = clamp_index(p[i], extent);
  }
  return values;
}

bool index_type(const mx::array &indices) { return indices.dtype() == mx::uint32 || indices.dtype() == mx::int32; }

// out[o, t, i] = a[o, indices[t], i] with a viewed as [outer, extent, inner] (row-major).
class CpuTake : public mx::UnaryPrimitive {
 public:
  CpuTake(mx::Stream stream, int axis) : mx::UnaryPrimitive(stream), axis_(axis) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    std::vector<mx::array> temporaries;
    mx::array a = inputs[0], indices = inputs[1];
    if (!a.flags().row_contiguous) a = contiguous_copy(a, stream(), temporaries);
    if (!indices.flags().row_contiguous) {
      // Integer views are rare here: let MLX make the copy.
      throw std::logic_error("NucleusCpuTake needs contiguous indices");
    }
    out.set_data(mx::allocator::malloc(out.nbytes()));
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis_; d++) outer *= a.shape(d);
    for (int d = axis_ + 1; d < a.ndim(); d++) inner *= a.shape(d);
    const int64_t extent = a.shape(axis_), count = static_cast<int64_t>(indices.size());
    const float *src = a.data<float>();
    float *dst = out.data<float>();
    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_output_array(out);
    encoder.dispatch([=]() {
      std::vector<int64_t> picks = read_indices(indices, extent);
      const int64_t rows = outer * count;
      int pieces = static_cast<int>(std::min<int64_t>(std::max<int64_t>(1, rows * inner / (1 << 15)), 4L * worker_count()));
      parallel_for(pieces, [&](int piece, int) {
        int64_t row = rows * piece / pieces, last = rows * (piece + 1) / pieces;
        while (row < last) {
          // One run of indices within one outer slice at a time (no division per element).
          int64_t o = row / count, t = row % count, run = std::min(count - t, last - row);
          const float *slice = src + o * extent * inner;
          float *to = dst + row * inner;
          if (inner == 1) {
            for (int64_t i = 0; i < run; i++) to[i] = slice[picks[t + i]];
          } else {
            for (int64_t i = 0; i < run; i++) std::memcpy(to + i * inner, slice + picks[t + i] * inner, inner * sizeof(float));
          }
          row += run;
        }
      });
    });
    encoder.add_temporaries(std::move(temporaries));
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuTake runs on the CPU only");
  }
  const char *name() const override { return "NucleusCpuTake"; }
  bool is_equivalent(const mx::Primitive &other) const override {
    auto *that = dynamic_cast<const CpuTake *>(&other);
    return that && that->axis_ == axis_;
  }

 private:
  int axis_;
};

// out = a; out[indices[t], ...] += updates[t, 0, ...] in order of t. Work is split by columns, so duplicate
// indices add up in the same order as on one thread.
class CpuScatterAddRows : public mx::UnaryPrimitive {
 public:
  explicit CpuScatterAddRows(mx::Stream stream) : mx::UnaryPrimitive(stream) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    std::vector<mx::array> temporaries;
    const bool donate = inputs[0].is_donatable() && inputs[0].flags().row_contiguous;
    mx::array a = inputs[0], indices = inputs[1], updates = inputs[2];
    if (!indices.flags().row_contiguous) throw std::logic_error("NucleusCpuScatterAdd needs contiguous indices");
    if (!updates.flags().row_contiguous) updates = contiguous_copy(updates, stream(), temporaries);
    const bool copy_rows = !donate;
    if (donate) {
      out.copy_shared_buffer(a);
    } else {
      if (!a.flags().row_contiguous) a = contiguous_copy(a, stream(), temporaries);
      out.set_data(mx::allocator::malloc(out.nbytes()));
    }
    const int64_t extent = a.shape(0), width = extent == 0 ? 0 : static_cast<int64_t>(a.size()) / extent;
    const int64_t count = static_cast<int64_t>(indices.size());
    const float *src = a.data<float>(), *add = updates.data<float>();
    float *dst = out.data<float>();
    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_output_array(out);
    encoder.dispatch([=]() {
      std::vector<int64_t> rows = read_indices(indices, extent);
      int pieces = static_cast<int>(std::min<int64_t>(std::max<int64_t>(1, width / 64), 4L * worker_count()));
      if ((count + extent) * width < (1 << 15)) pieces = 1;
      parallel_for(pieces, [&](int piece, int) {
        int64_t first = width * piece / pieces, last = width * (piece + 1) / pieces;
        if (copy_rows) {
          for (int64_t r = 0; r < extent; r++) std::memcpy(dst + r * width + first, src + r * width + first, (last - first) * sizeof(float));
        }
        for (int64_t t = 0; t < count; t++) {
          float *to = dst + rows[t] * width;
          const float *from = add + t * width;
          for (int64_t c = first; c < last; c++) to[c] += from[c];
        }
      });
    });
    encoder.add_temporaries(std::move(temporaries));
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuScatterAdd runs on the CPU only");
  }
  const char *name() const override { return "NucleusCpuScatterAdd"; }
  bool is_equivalent(const mx::Primitive &other) const override { return dynamic_cast<const CpuScatterAddRows *>(&other); }
};

// [N, H, W, C] -> [N, 2H, 2W, C]: every output row is its source row with each pixel written twice.
class CpuUpsample2x : public mx::UnaryPrimitive {
 public:
  explicit CpuUpsample2x(mx::Stream stream) : mx::UnaryPrimitive(stream) {}

  void eval_cpu(const std::vector<mx::array> &inputs, mx::array &out) override {
    std::vector<mx::array> temporaries;
    mx::array x = inputs[0];
    if (!x.flags().row_contiguous) x = contiguous_copy(x, stream(), temporaries);
    out.set_data(mx::allocator::malloc(out.nbytes()));
    const int64_t rows = static_cast<int64_t>(x.shape(0)) * x.shape(1), width = x.shape(2), channels = x.shape(3);
    const float *src = x.data<float>();
    float *dst = out.data<float>();
    auto &encoder = mx::cpu::get_command_encoder(stream());
    encoder.set_output_array(out);
    encoder.dispatch([=]() {
      int pieces = static_cast<int>(std::min<int64_t>(rows, 8L * worker_count()));
      parallel_for(pieces, [&](int piece, int) {
        for (int64_t row = rows * piece / pieces; row < rows * (piece + 1) / pieces; row++) {
          const float *from = src + row * width * channels;
          float *top = dst + 2 * row * 2 * width * channels;
          for (int64_t x = 0; x < width; x++) {
            std::memcpy(top + 2 * x * channels, from + x * channels, channels * sizeof(float));
            std::memcpy(top + (2 * x + 1) * channels, from + x * channels, channels * sizeof(float));
          }
          std::memcpy(top + 2 * width * channels, top, 2 * width * channels * sizeof(float));
        }
      });
    });
    encoder.add_temporaries(std::move(temporaries));
  }

  void eval_gpu(const std::vector<mx::array> &, mx::array &) override {
    throw std::runtime_error("NucleusCpuUpsample2x runs on the CPU only");
  }
  const char *name() const override { return "NucleusCpuUpsample2x"; }
  bool is_equivalent(const mx::Primitive &other) const override { return dynamic_cast<const CpuUpsample2x *>(&other); }
};

}  // namespace

std::optional<mx::array> try_upsample_nearest_2x(const mx::array &x) {
  mx::Stream stream = mx::to_stream({});
  if (!runs_on_our_kernels(stream, {&x}) || x.ndim() != 4 || x.size() == 0) return std::nullopt;
  return mx::array({x.shape(0), 2 * x.shape(1), 2 * x.shape(2), x.shape(3)}, mx::float32,
                   std::make_shared<CpuUpsample2x>(stream), {x});
}

std::optional<mx::array> try_take(const mx::array &a, const mx::array &indices, int axis) {
  mx::Stream stream = mx::to_stream({});
  if (!runs_on_our_kernels(stream, {&a}) || !index_type(indices) || a.ndim() == 0) return std::nullopt;
  if (axis < 0) axis += a.ndim();
  if (axis < 0 || axis >= a.ndim() || a.shape(axis) == 0 || a.size() == 0) return std::nullopt;
  mx::Shape shape(a.shape().begin(), a.shape().begin() + axis);
  shape.insert(shape.end(), indices.shape().begin(), indices.shape().end());
  shape.insert(shape.end(), a.shape().begin() + axis + 1, a.shape().end());
  return mx::array(std::move(shape), mx::float32, std::make_shared<CpuTake>(stream, axis),
                   {a, mx::contiguous(indices, false, stream)});
}

std::optional<mx::array> try_scatter_add(const mx::array &a, const std::vector<mx::array> &indices,
                                         const mx::array &updates, const std::vector<int> &axes) {
  mx::Stream stream = mx::to_stream({});
  if (!runs_on_our_kernels(stream, {&a, &updates}) || indices.size() != 1 || axes.size() != 1 || axes[0] != 0) {
    return std::nullopt;
  }
  const mx::array &index = indices[0];
  if (!index_type(index) || index.ndim() != 1 || a.ndim() < 1 || a.shape(0) == 0) return std::nullopt;
  // updates = [n, 1, a.shape[1:]...]: one full row of `a` per index.
  if (updates.ndim() != a.ndim() + 1 || updates.shape(0) != index.shape(0) || updates.shape(1) != 1) return std::nullopt;
  for (int d = 1; d < a.ndim(); d++) {
    if (updates.shape(d + 1) != a.shape(d)) return std::nullopt;
  }
  return mx::array(a.shape(), mx::float32, std::make_shared<CpuScatterAddRows>(stream),
                   {a, mx::contiguous(index, false, stream), updates});
}

}  // namespace nucleus::kernels
