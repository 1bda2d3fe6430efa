// The bridge's elementwise operations and row norms: ours (vectorised, on our threads) on the CPU for float32,
// MLX's everywhere else.
#pragma once

#include <optional>
#include <vector>

#include "kernel_elementwise.hpp"
#include "mlx/mlx.h"

namespace nucleus::kernels {

mlx::core::array sigmoid(const mlx::core::array &x);
mlx::core::array silu(const mlx::core::array &x);
// x · cos + swap_pairs(x) · sin, where swap_pairs exchanges elements 2k and 2k+1 of the last axis: the rotary
// embedding of interleaved pairs with precomputed tables (cos and sin broadcast to x's shape).
mlx::core::array rotate_pairs(const mlx::core::array &x, const mlx::core::array &cos, const mlx::core::array &sin);

// Ours, or nullopt when the operation is not ours to run (the caller then uses MLX's).
std::optional<mlx::core::array> try_binary(BinaryOp op, const mlx::core::array &a, const mlx::core::array &b);
// √(Σ x²) over the last axis only.
std::optional<mlx::core::array> try_l2_norm(const mlx::core::array &x, const std::vector<int> &axes, bool keepdims);
std::optional<mlx::core::array> try_layer_norm(const mlx::core::array &x, const std::optional<mlx::core::array> &weight,
                                               const std::optional<mlx::core::array> &bias, float eps);
// Whether none of the float words in `byte_count` bytes at `data` (any alignment; float32 words with a uint32_t
// exponent mask, bfloat16/float16 words with a uint16_t one) has every exponent bit set: no NaN or infinity. In the
// selected variant (the best one when MLX's own operations are selected); not an MLX operation.
bool none_has_exponent(const void *data, size_t byte_count, uint32_t exponent);
bool none_has_exponent(const void *data, size_t byte_count, uint16_t exponent);

std::optional<mlx::core::array> try_rms_norm(const mlx::core::array &x, const std::optional<mlx::core::array> &weight,
                                             float eps);

}  // namespace nucleus::kernels
