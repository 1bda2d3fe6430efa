// Shared pieces of the bridge implementation: the handle type and the exception guard.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "mlx/mlx.h"
#include "mlx_bridge.h"

struct mlxb_array_s {
  mlx::core::array value;
};

struct mlxb_vector_s {
  std::vector<mlx::core::array> values;
};

namespace mlxb {

void set_error(const std::string &message);

// Runs `body`, turning any C++ exception into an error value (1) with its message kept for mlxb_last_error.
template <typename Body> int guarded(Body &&body) noexcept {
  try {
    body();
    return 0;
  } catch (const std::exception &error) {
    set_error(error.what());
  } catch (...) {
    set_error("unknown C++ exception in the MLX bridge");
  }
  return 1;
}

inline mlxb_array wrap(mlx::core::array value) { return new mlxb_array_s{std::move(value)}; }

// Unwraps a handle, refusing null handles with a clear message.
const mlx::core::array &unwrap(mlxb_array array, const char *what = "array");

inline mlxb_vector wrap_all(std::vector<mlx::core::array> values) { return new mlxb_vector_s{std::move(values)}; }

inline mlx::core::Shape shape_from(const int32_t *dims, size_t ndim) {
  return ndim == 0 ? mlx::core::Shape{} : mlx::core::Shape(dims, dims + ndim);
}

inline std::vector<int> ints_from(const int32_t *values, size_t count) {
  return count == 0 ? std::vector<int>{} : std::vector<int>(values, values + count);
}

// A nullable handle as an optional array.
inline std::optional<mlx::core::array> optional(mlxb_array array) {
  if (array == nullptr) return std::nullopt;
  return array->value;
}

std::vector<mlx::core::array> unwrap_all(const mlxb_array *arrays, size_t count);

mlx::core::Dtype to_mlx(mlxb_dtype dtype);
mlxb_dtype from_mlx(mlx::core::Dtype dtype);

}  // namespace mlxb
