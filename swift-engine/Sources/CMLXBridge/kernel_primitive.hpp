// Helpers shared by our MLX primitives: when an operation is ours, splitting work over our threads, strided
// copies, and evaluated-input layouts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernel_cpu.hpp"
#include "mlx/backend/cpu/encoder.h"
#include "mlx/mlx.h"

namespace nucleus::kernels {

// The stream an operation built now runs on, and whether our CPU kernels take it: a CPU stream, our kernels
// selected, and every input float32.
bool runs_on_our_kernels(mlx::core::Stream stream, std::initializer_list<const mlx::core::array *> inputs);

// A row-major copy of any strided float32 array, made on the stream when the kernel runs; the copy is kept alive
// through `temporaries` (hand them to the encoder after dispatching the kernel).
mlx::core::array contiguous_copy(const mlx::core::array &x, mlx::core::Stream stream,
                                 std::vector<mlx::core::array> &temporaries);

// MLX's flags for a dense buffer (no gaps) viewed with `strides`.
mlx::core::array::Flags dense_flags(const mlx::core::Shape &shape, const mlx::core::Strides &strides);

// Splits [0, n) into pieces of at least `grain` items (boundaries at multiples of `unit`) over our threads.
template <typename Body>
void parallel_range(int64_t n, int64_t grain, Body body, int64_t unit = 64) {
  int64_t pieces = std::max<int64_t>(1, std::min<int64_t>(n / grain, 4L * worker_count()));
  if (pieces == 1) return body(0, n);
  parallel_for(static_cast<int>(pieces), [&](int piece, int) {
    int64_t begin = n * piece / pieces / unit * unit;
    int64_t end = piece + 1 == pieces ? n : n * (piece + 1) / pieces / unit * unit;
    if (end > begin) body(begin, end);
  });
}

// Element offset of flat index `index` over `shape` laid out with `strides` (0 = broadcast).
int64_t strided_offset(int64_t index, const mlx::core::Shape &shape, const mlx::core::Strides &strides, int axes);

}  // namespace nucleus::kernels
