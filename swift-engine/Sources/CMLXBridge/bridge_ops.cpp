// Matrix products and the fused (fast::) operations.
#include <stdexcept>

#include "bridge_internal.hpp"
#include "kernel_attention_op.hpp"
#include "kernel_conv_op.hpp"
#include "kernel_elementwise_op.hpp"
#include "kernel_indexing_op.hpp"
#include "kernel_matmul_op.hpp"

namespace mx = mlx::core;

using mlxb::guarded;
using mlxb::optional;
using mlxb::unwrap;
using mlxb::wrap;

extern "C" {

int mlxb_matmul(mlxb_array a, mlxb_array b, mlxb_array *out) {
  return guarded([&] { *out = wrap(nucleus::kernels::matmul(unwrap(a), unwrap(b))); });
}

int mlxb_addmm(mlxb_array c, mlxb_array a, mlxb_array b, float alpha, float beta, mlxb_array *out) {
  return guarded([&] { *out = wrap(nucleus::kernels::addmm(unwrap(c), unwrap(a), unwrap(b), alpha, beta)); });
}

int mlxb_softmax(mlxb_array a, int axis, int precise, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::softmax(unwrap(a), axis, precise != 0)); });
}

int mlxb_layer_norm(mlxb_array x, mlxb_array weight, mlxb_array bias, float eps, mlxb_array *out) {
  return guarded([&] {
    if (auto ours = nucleus::kernels::try_layer_norm(unwrap(x), optional(weight), optional(bias), eps)) {
      *out = wrap(*ours);
    } else {
      *out = wrap(mx::fast::layer_norm(unwrap(x), optional(weight), optional(bias), eps));
    }
  });
}

int mlxb_rms_norm(mlxb_array x, mlxb_array weight, float eps, mlxb_array *out) {
  return guarded([&] {
    if (auto ours = nucleus::kernels::try_rms_norm(unwrap(x), optional(weight), eps)) {
      *out = wrap(*ours);
    } else {
      *out = wrap(mx::fast::rms_norm(unwrap(x), optional(weight), eps));
    }
  });
}

int mlxb_rotate_pairs(mlxb_array x, mlxb_array cos, mlxb_array sin, mlxb_array *out) {
  return guarded([&] { *out = wrap(nucleus::kernels::rotate_pairs(unwrap(x), unwrap(cos, "cos"), unwrap(sin, "sin"))); });
}

int mlxb_scaled_dot_product_attention(mlxb_array q, mlxb_array k, mlxb_array v, float scale, mlxb_mask_mode mode,
                                      mlxb_array mask, mlxb_array *out) {
  return guarded([&] {
    std::string mask_mode;
    std::optional<mx::array> mask_array;
    switch (mode) {
      case MLXB_MASK_NONE: break;
      case MLXB_MASK_CAUSAL: mask_mode = "causal"; break;
      case MLXB_MASK_ARRAY:
        mask_mode = "array";
        mask_array = unwrap(mask, "mask");
        break;
      default: throw std::invalid_argument("unknown attention mask mode");
    }
    *out = wrap(nucleus::kernels::scaled_dot_product_attention(unwrap(q, "queries"), unwrap(k, "keys"),
                                                                 unwrap(v, "values"), scale, mask_mode, mask_array));
  });
}

int mlxb_conv2d(mlxb_array x, mlxb_array weight, int stride_h, int stride_w, int pad_h, int pad_w, int dilation_h,
                int dilation_w, int groups, mlxb_array *out) {
  return guarded([&] {
    const mx::array &input = unwrap(x), &kernel = unwrap(weight, "weight");
    if (auto ours = nucleus::kernels::try_conv2d(input, kernel, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w,
                                                 groups)) {
      *out = wrap(*ours);
    } else {
      *out = wrap(mx::conv2d(input, kernel, {stride_h, stride_w}, {pad_h, pad_w}, {dilation_h, dilation_w}, groups));
    }
  });
}

int mlxb_upsample_nearest_2x(mlxb_array x, mlxb_array *out) {
  return guarded([&] {
    const mx::array &image = unwrap(x);
    if (image.ndim() != 4) throw std::invalid_argument("upsample_nearest_2x expects NHWC (4 dimensions)");
    if (auto ours = nucleus::kernels::try_upsample_nearest_2x(image)) {
      *out = wrap(*ours);
      return;
    }
    // Repeat each row and each column twice: [N, H, W, C] -> [N, 2H, 2W, C].
    *out = wrap(mx::repeat(mx::repeat(image, 2, 1), 2, 2));
  });
}

int mlxb_quantize(mlxb_array w, int group_size, int bits, mlxb_vector *out) {
  return guarded([&] { *out = mlxb::wrap_all(mx::quantize(unwrap(w), group_size, bits, "affine")); });
}

int mlxb_dequantize(mlxb_array w, mlxb_array scales, mlxb_array biases, int group_size, int bits, mlxb_array *out) {
  return guarded([&] {
    *out = wrap(mx::dequantize(unwrap(w), unwrap(scales, "scales"), optional(biases), group_size, bits, "affine"));
  });
}

int mlxb_quantized_matmul(mlxb_array x, mlxb_array w, mlxb_array scales, mlxb_array biases, int transpose,
                          int group_size, int bits, mlxb_array *out) {
  return guarded([&] {
    *out = wrap(mx::quantized_matmul(unwrap(x), unwrap(w), unwrap(scales, "scales"), optional(biases),
                                     transpose != 0, group_size, bits, "affine"));
  });
}

int mlxb_gather_mm(mlxb_array a, mlxb_array b, mlxb_array lhs_indices, mlxb_array rhs_indices, int sorted_indices,
                   mlxb_array *out) {
  return guarded([&] {
    *out = wrap(mx::gather_mm(unwrap(a), unwrap(b), optional(lhs_indices), optional(rhs_indices),
                              sorted_indices != 0));
  });
}

int mlxb_gather_qmm(mlxb_array x, mlxb_array w, mlxb_array scales, mlxb_array biases, mlxb_array lhs_indices,
                    mlxb_array rhs_indices, int transpose, int group_size, int bits, int sorted_indices,
                    mlxb_array *out) {
  return guarded([&] {
    *out = wrap(mx::gather_qmm(unwrap(x), unwrap(w), unwrap(scales, "scales"), optional(biases),
                               optional(lhs_indices), optional(rhs_indices), transpose != 0, group_size, bits,
                               "affine", std::nullopt, sorted_indices != 0));
  });
}

}  // extern "C"
