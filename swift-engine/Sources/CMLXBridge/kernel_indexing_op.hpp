// The bridge's take (gather along one axis) and scatter_add (rows along axis 0): ours on the CPU for float32 data
// with 32-bit indices, MLX's everywhere else.
#pragma once

#include <optional>
#include <vector>

#include "mlx/mlx.h"

namespace nucleus::kernels {

// Ours, or nullopt when the operation is not ours to run (the caller then uses MLX's).
std::optional<mlx::core::array> try_take(const mlx::core::array &a, const mlx::core::array &indices, int axis);
// Nearest-neighbour 2× upsampling of NHWC images (each pixel becomes a 2×2 block).
std::optional<mlx::core::array> try_upsample_nearest_2x(const mlx::core::array &x);
std::optional<mlx::core::array> try_scatter_add(const mlx::core::array &a, const std::vector<mlx::core::array> &indices,
                                                const mlx::core::array &updates, const std::vector<int> &axes);

}  // namespace nucleus::kernels
