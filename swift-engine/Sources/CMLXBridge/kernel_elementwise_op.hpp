// The bridge's sigmoid and silu: ours (vectorised exp, our threads) on the CPU for float32, MLX's everywhere else.
#pragma once

#include "kernel_elementwise.hpp"
#include "mlx/mlx.h"

namespace nucleus::kernels {

mlx::core::array sigmoid(const mlx::core::array &x);
mlx::core::array silu(const mlx::core::array &x);

}  // namespace nucleus::kernels
