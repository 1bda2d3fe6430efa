// bfloat16 → float32 on our threads: weights kept in bf16 are widened for every forward on the CPU backend, and
// MLX's own cast does it on one thread.
#pragma once

#include <optional>

#include "mlx/mlx.h"

namespace nucleus::kernels {

// Ours for a row-contiguous bfloat16 array on the CPU, else nullopt (the caller then uses MLX's astype).
std::optional<mlx::core::array> try_widen_bfloat16(const mlx::core::array &x, mlx::core::Dtype to);

}  // namespace nucleus::kernels
