// The bridge's conv2d: ours on the CPU for float32 (groups of 1), MLX's everywhere else.
#pragma once

#include <optional>

#include "mlx/mlx.h"

namespace nucleus::kernels {

// x NHWC, weight OHWI; nullopt when the convolution is not ours to run (the caller then uses MLX's).
std::optional<mlx::core::array> try_conv2d(const mlx::core::array &x, const mlx::core::array &weight, int stride_h,
                                           int stride_w, int pad_h, int pad_w, int dilation_h, int dilation_w,
                                           int groups);

}  // namespace nucleus::kernels
