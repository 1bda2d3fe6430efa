// Helpers shared by our MLX primitives.
#include "kernel_primitive.hpp"

namespace mx = mlx::core;

namespace nucleus::kernels {

bool runs_on_our_kernels(mx::Stream stream, std::initializer_list<const mx::array *> inputs) {
  if (stream.device != mx::Device::cpu || selected() == Isa::mlx) return false;
  for (const mx::array *x : inputs) {
    if (x->dtype() != mx::float32) return false;
  }
  return true;
}

int64_t strided_offset(int64_t index, const mx::Shape &shape, const mx::Strides &strides, int axes) {
  int64_t offset = 0;
  for (int axis = axes - 1; axis >= 0 && index > 0; axis--) {
    int64_t extent = shape[axis];
    offset += (index % extent) * strides[axis];
    index /= extent;
  }
  return offset;
}

mx::array::Flags dense_flags(const mx::Shape &shape, const mx::Strides &strides) {
  mx::array::Flags flags;
  flags.contiguous = true;
  bool row = true, column = true;
  const int n = static_cast<int>(shape.size());
  for (int i = 0; i < n; i++) {
    if (shape[i] == 1) continue;
    int64_t row_expected = i + 1 < n ? static_cast<int64_t>(shape[i + 1]) * strides[i + 1] : 1;
    int64_t column_expected = i > 0 ? static_cast<int64_t>(shape[i - 1]) * strides[i - 1] : 1;
    row = row && strides[i] == row_expected;
    column = column && strides[i] == column_expected;
  }
  flags.row_contiguous = row;
  flags.col_contiguous = column;
  return flags;
}

mx::array contiguous_copy(const mx::array &x, mx::Stream stream, std::vector<mx::array> &temporaries) {
  mx::array copy(x.shape(), x.dtype(), nullptr, {});
  copy.set_data(mx::allocator::malloc(copy.nbytes()));
  const float *src = x.data<float>();
  float *dst = copy.data<float>();
  mx::Shape shape = x.shape();
  mx::Strides strides = x.strides();
  int64_t rows = shape.empty() ? 1 : static_cast<int64_t>(x.size() / shape.back());
  int64_t width = shape.empty() ? 1 : shape.back();
  int64_t step = shape.empty() ? 0 : strides.back();
  int axes = static_cast<int>(shape.size()) - 1;
  mx::cpu::get_command_encoder(stream).dispatch([src, dst, shape, strides, rows, width, step, axes]() {
    parallel_for(static_cast<int>(std::min<int64_t>(rows, 64)), [&](int task, int) {
      int64_t first = rows * task / std::min<int64_t>(rows, 64), last = rows * (task + 1) / std::min<int64_t>(rows, 64);
      for (int64_t row = first; row < last; row++) {
        const float *from = src + strided_offset(row, shape, strides, axes);
        float *to = dst + row * width;
        for (int64_t i = 0; i < width; i++) to[i] = from[i * step];
      }
    });
  });
  temporaries.push_back(copy);
  return copy;
}

}  // namespace nucleus::kernels
