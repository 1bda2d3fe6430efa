// Gathers, scatters, partitions and sorts.
#include "bridge_internal.hpp"
#include "kernel_indexing_op.hpp"

namespace mx = mlx::core;

using mlxb::guarded;
using mlxb::unwrap;
using mlxb::wrap;

extern "C" {

int mlxb_take(mlxb_array a, mlxb_array indices, int axis, mlxb_array *out) {
  return guarded([&] {
    const mx::array &data = unwrap(a), &picks = unwrap(indices, "indices");
    if (auto ours = nucleus::kernels::try_take(data, picks, axis)) {
      *out = wrap(*ours);
    } else {
      *out = wrap(mx::take(data, picks, axis));
    }
  });
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
    std::vector<mx::array> index_arrays = mlxb::unwrap_all(indices, count);
    std::vector<int> axis_list = mlxb::ints_from(axes, count);
    const mx::array &data = unwrap(a), &values = unwrap(updates, "updates");
    if (auto ours = nucleus::kernels::try_scatter_add(data, index_arrays, values, axis_list)) {
      *out = wrap(*ours);
    } else {
      *out = wrap(mx::scatter_add(data, index_arrays, values, axis_list));
    }
  });
}

int mlxb_argpartition(mlxb_array a, int kth, int axis, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::argpartition(unwrap(a), kth, axis)); });
}

int mlxb_argsort(mlxb_array a, int axis, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::argsort(unwrap(a), axis)); });
}

}  // extern "C"
