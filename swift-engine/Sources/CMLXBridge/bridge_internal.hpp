// Shared pieces of the bridge implementation: the handle type and the exception guard.
#pragma once

#include <exception>
#include <string>

#include "mlx/mlx.h"
#include "mlx_bridge.h"

struct mlxb_array_s {
  mlx::core::array value;
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

mlx::core::Dtype to_mlx(mlxb_dtype dtype);
mlxb_dtype from_mlx(mlx::core::Dtype dtype);

}  // namespace mlxb
