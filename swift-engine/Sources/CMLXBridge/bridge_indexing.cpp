// Gathers, scatters, partitions and sorts.
#include "bridge_internal.hpp"

namespace mx = mlx::core;

using mlxb::guarded;
using mlxb::unwrap;
using mlxb::wrap;

extern "C" {

int mlxb_take(mlxb_array a, mlxb_array indices, int axis, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::take(unwrap(a), unwrap(indices, "indices"), axis)); });
}

int mlxb_take_along_axis(mlxb_array a, mlxb_array indices, int axis, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::take_along_axis(unwrap(a), unwrap(indices, "indices"), axis)); });
}

int mlxb_put_along_axis(mlxb_array a, mlxb_array indices, mlxb_array values, int axis, mlxb_array *out) {
  return guarded([&] {
    *out = wrap(mx::put_along_axis(unwrap(a), unwrap(indices, "indices"), unwrap(values, "values"), axis));
  });
}

int mlxb_scatter_add_axis(mlxb_array a, mlxb_array indices, mlxb_array values, int axis, mlxb_array *out) {
  return guarded([&] {
    *out = wrap(mx::scatter_add_axis(unwrap(a), unwrap(indices, "indices"), unwrap(values, "values"), axis));
  });
}

int mlxb_scatter_add(mlxb_array a, const mlxb_array *indices, size_t count, mlxb_array updates, const int32_t *axes,
                     mlxb_array *out) {
  return guarded([&] {
    *out = wrap(mx::scatter_add(unwrap(a), mlxb::unwrap_all(indices, count), unwrap(updates, "updates"),
                                mlxb::ints_from(axes, count)));
  });
}

int mlxb_argpartition(mlxb_array a, int kth, int axis, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::argpartition(unwrap(a), kth, axis)); });
}

int mlxb_argsort(mlxb_array a, int axis, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::argsort(unwrap(a), axis)); });
}

}  // extern "C"
