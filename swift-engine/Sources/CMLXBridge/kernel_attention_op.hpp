// The bridge's scaled_dot_product_attention: our fused kernel on the CPU for float32, MLX's own everywhere else.
#pragma once

#include <optional>
#include <string>

#include "mlx/mlx.h"

namespace nucleus::kernels {

// Same contract as mlx::core::fast::scaled_dot_product_attention (mask_mode "", "causal" or "array").
mlx::core::array scaled_dot_product_attention(const mlx::core::array &queries, const mlx::core::array &keys,
                                              const mlx::core::array &values, float scale,
                                              const std::string &mask_mode,
                                              const std::optional<mlx::core::array> &mask);

}  // namespace nucleus::kernels
