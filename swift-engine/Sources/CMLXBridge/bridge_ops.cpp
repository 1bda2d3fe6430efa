// Tensor operations.
#include "bridge_internal.hpp"

namespace mx = mlx::core;

using mlxb::guarded;
using mlxb::unwrap;
using mlxb::wrap;

extern "C" {

int mlxb_matmul(mlxb_array a, mlxb_array b, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::matmul(unwrap(a), unwrap(b))); });
}

int mlxb_softmax(mlxb_array a, int axis, int precise, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::softmax(unwrap(a), axis, precise != 0)); });
}

}  // extern "C"
