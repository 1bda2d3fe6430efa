// Array creation: scalars, constant fills, ranges, random normal samples.
#include "bridge_internal.hpp"

namespace mx = mlx::core;

using mlxb::guarded;
using mlxb::shape_from;
using mlxb::to_mlx;
using mlxb::wrap;

extern "C" {

int mlxb_scalar(double value, mlxb_dtype dtype, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::astype(mx::array(value, mx::float32), to_mlx(dtype))); });
}

int mlxb_full(const int32_t *shape, size_t ndim, double value, mlxb_dtype dtype, mlxb_array *out) {
  return guarded([&] {
    // Build the scalar in float32 first: MLX has no float64 on GPUs.
    mx::array scalar = mx::astype(mx::array(static_cast<float>(value)), to_mlx(dtype));
    *out = wrap(mx::full(shape_from(shape, ndim), scalar, to_mlx(dtype)));
  });
}

int mlxb_zeros(const int32_t *shape, size_t ndim, mlxb_dtype dtype, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::zeros(shape_from(shape, ndim), to_mlx(dtype))); });
}

int mlxb_ones(const int32_t *shape, size_t ndim, mlxb_dtype dtype, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::ones(shape_from(shape, ndim), to_mlx(dtype))); });
}

int mlxb_arange(double start, double stop, double step, mlxb_dtype dtype, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::arange(start, stop, step, to_mlx(dtype))); });
}

int mlxb_random_key(uint64_t seed, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::random::key(seed)); });
}

int mlxb_random_split(mlxb_array key, int num, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::random::split(mlxb::unwrap(key, "key"), num)); });
}

int mlxb_random_normal(const int32_t *shape, size_t ndim, mlxb_dtype dtype, mlxb_array key, mlxb_array *out) {
  return guarded([&] {
    *out = wrap(mx::random::normal(shape_from(shape, ndim), to_mlx(dtype), mlxb::optional(key)));
  });
}

}  // extern "C"
