// Elementwise unary and binary operations, clip and where.
#include <stdexcept>

#include "bridge_internal.hpp"
#include "kernel_elementwise_op.hpp"

namespace mx = mlx::core;

using mlxb::guarded;
using mlxb::unwrap;
using mlxb::wrap;

namespace {

mx::array apply_unary(mlxb_unary_op op, const mx::array &a) {
  switch (op) {
    case MLXB_NEGATIVE: return mx::negative(a);
    case MLXB_EXP: return mx::exp(a);
    case MLXB_LOG: return mx::log(a);
    case MLXB_SQRT: return mx::sqrt(a);
    case MLXB_RSQRT: return mx::rsqrt(a);
    case MLXB_TANH: return mx::tanh(a);
    case MLXB_SIGMOID: return nucleus::kernels::sigmoid(a);
    case MLXB_SILU: return nucleus::kernels::silu(a);
    case MLXB_SIN: return mx::sin(a);
    case MLXB_COS: return mx::cos(a);
    case MLXB_ABS: return mx::abs(a);
    case MLXB_SQUARE: return mx::square(a);
    case MLXB_FLOOR: return mx::floor(a);
    case MLXB_LOGICAL_NOT: return mx::logical_not(a);
  }
  throw std::invalid_argument("unknown unary op " + std::to_string(static_cast<int>(op)));
}

// Arithmetic that our CPU kernels may take (float32 on the CPU), else MLX's.
std::optional<mx::array> our_binary(mlxb_binary_op op, const mx::array &a, const mx::array &b) {
  namespace k = nucleus::kernels;
  switch (op) {
    case MLXB_ADD: return k::try_binary(k::BinaryOp::add, a, b);
    case MLXB_SUBTRACT: return k::try_binary(k::BinaryOp::subtract, a, b);
    case MLXB_MULTIPLY: return k::try_binary(k::BinaryOp::multiply, a, b);
    case MLXB_DIVIDE: return k::try_binary(k::BinaryOp::divide, a, b);
    default: return std::nullopt;
  }
}

mx::array apply_binary(mlxb_binary_op op, const mx::array &a, const mx::array &b) {
  if (auto ours = our_binary(op, a, b)) return *ours;
  switch (op) {
    case MLXB_ADD: return mx::add(a, b);
    case MLXB_SUBTRACT: return mx::subtract(a, b);
    case MLXB_MULTIPLY: return mx::multiply(a, b);
    case MLXB_DIVIDE: return mx::divide(a, b);
    case MLXB_MAXIMUM: return mx::maximum(a, b);
    case MLXB_MINIMUM: return mx::minimum(a, b);
    case MLXB_POWER: return mx::power(a, b);
    case MLXB_EQUAL: return mx::equal(a, b);
    case MLXB_NOT_EQUAL: return mx::not_equal(a, b);
    case MLXB_LESS: return mx::less(a, b);
    case MLXB_LESS_EQUAL: return mx::less_equal(a, b);
    case MLXB_GREATER: return mx::greater(a, b);
    case MLXB_GREATER_EQUAL: return mx::greater_equal(a, b);
    case MLXB_LOGICAL_AND: return mx::logical_and(a, b);
    case MLXB_LOGICAL_OR: return mx::logical_or(a, b);
  }
  throw std::invalid_argument("unknown binary op " + std::to_string(static_cast<int>(op)));
}

}  // namespace

extern "C" {

int mlxb_unary(mlxb_unary_op op, mlxb_array a, mlxb_array *out) {
  return guarded([&] { *out = wrap(apply_unary(op, unwrap(a))); });
}

int mlxb_binary(mlxb_binary_op op, mlxb_array a, mlxb_array b, mlxb_array *out) {
  return guarded([&] { *out = wrap(apply_binary(op, unwrap(a), unwrap(b))); });
}

int mlxb_clip(mlxb_array a, mlxb_array low, mlxb_array high, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::clip(unwrap(a), mlxb::optional(low), mlxb::optional(high))); });
}

int mlxb_where(mlxb_array condition, mlxb_array x, mlxb_array y, mlxb_array *out) {
  return guarded([&] { *out = wrap(mx::where(unwrap(condition, "condition"), unwrap(x), unwrap(y))); });
}

}  // extern "C"
