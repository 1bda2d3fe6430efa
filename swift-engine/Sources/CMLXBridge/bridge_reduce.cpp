// Reductions.
#include <stdexcept>

#include "bridge_internal.hpp"
#include "kernel_elementwise_op.hpp"

namespace mx = mlx::core;

using mlxb::guarded;
using mlxb::unwrap;
using mlxb::wrap;

namespace {

std::vector<int> all_axes(const mx::array &a) {
  std::vector<int> axes(a.ndim());
  for (size_t i = 0; i < axes.size(); i++) axes[i] = static_cast<int>(i);
  return axes;
}

}  // namespace

extern "C" {

int mlxb_reduce(mlxb_reduce_op op, mlxb_array a, const int32_t *axes, size_t naxes, int keepdims, mlxb_array *out) {
  return guarded([&] {
    const mx::array &x = unwrap(a);
    std::vector<int> over = naxes == 0 ? all_axes(x) : mlxb::ints_from(axes, naxes);
    bool keep = keepdims != 0;
    switch (op) {
      case MLXB_SUM: *out = wrap(mx::sum(x, over, keep)); return;
      case MLXB_MEAN: *out = wrap(mx::mean(x, over, keep)); return;
      case MLXB_MAX: *out = wrap(mx::max(x, over, keep)); return;
      case MLXB_MIN: *out = wrap(mx::min(x, over, keep)); return;
      case MLXB_ARGMAX:
        if (over.size() != 1) throw std::invalid_argument("argmax reduces exactly one axis");
        *out = wrap(mx::argmax(x, over[0], keep));
        return;
    }
    throw std::invalid_argument("unknown reduction " + std::to_string(static_cast<int>(op)));
  });
}

int mlxb_l2_norm(mlxb_array a, const int32_t *axes, size_t naxes, int keepdims, mlxb_array *out) {
  return guarded([&] {
    const mx::array &x = unwrap(a);
    // sqrt(sum(x^2)) over the axes; linalg::norm refuses more than two axes, the model code needs any.
    std::vector<int> over = naxes == 0 ? all_axes(x) : mlxb::ints_from(axes, naxes);
    if (auto ours = nucleus::kernels::try_l2_norm(x, over, keepdims != 0)) {
      *out = wrap(*ours);
    } else {
      *out = wrap(mx::sqrt(mx::sum(mx::square(x), over, keepdims != 0)));
    }
  });
}

}  // extern "C"
