// The bridge's matmul and addmm: ours (parallel blocks of single-threaded sgemm) on the CPU for float32, MLX's own
// everywhere else.
#pragma once

#include "mlx/mlx.h"

namespace nucleus::kernels {

mlx::core::array matmul(const mlx::core::array &a, const mlx::core::array &b);
// beta · c + alpha · (a @ b)
mlx::core::array addmm(const mlx::core::array &c, const mlx::core::array &a, const mlx::core::array &b, float alpha,
                       float beta);

}  // namespace nucleus::kernels
