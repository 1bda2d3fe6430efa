// Errors, handle lifetime, array creation, inspection, evaluation and host reads.
#include <cstring>
#include <stdexcept>
#include <vector>

#include "bridge_internal.hpp"

namespace mx = mlx::core;

namespace mlxb {

static thread_local std::string last_error;

void set_error(const std::string &message) { last_error = message; }

const mx::array &unwrap(mlxb_array array, const char *what) {
  if (array == nullptr) throw std::invalid_argument(std::string("null ") + what + " handle");
  return array->value;
}

mx::Dtype to_mlx(mlxb_dtype dtype) {
  switch (dtype) {
    case MLXB_BOOL: return mx::bool_;
    case MLXB_UINT8: return mx::uint8;
    case MLXB_UINT32: return mx::uint32;
    case MLXB_INT32: return mx::int32;
    case MLXB_INT64: return mx::int64;
    case MLXB_FLOAT16: return mx::float16;
    case MLXB_BFLOAT16: return mx::bfloat16;
    case MLXB_FLOAT32: return mx::float32;
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(static_cast<int>(dtype)));
}

mlxb_dtype from_mlx(mx::Dtype dtype) {
  switch (dtype.val()) {
    case mx::Dtype::Val::bool_: return MLXB_BOOL;
    case mx::Dtype::Val::uint8: return MLXB_UINT8;
    case mx::Dtype::Val::uint32: return MLXB_UINT32;
    case mx::Dtype::Val::int32: return MLXB_INT32;
    case mx::Dtype::Val::int64: return MLXB_INT64;
    case mx::Dtype::Val::float16: return MLXB_FLOAT16;
    case mx::Dtype::Val::bfloat16: return MLXB_BFLOAT16;
    case mx::Dtype::Val::float32: return MLXB_FLOAT32;
    default: break;
  }
  throw std::invalid_argument("the bridge does not expose MLX dtype of size " + std::to_string(dtype.size()));
}

std::vector<mx::array> unwrap_all(const mlxb_array *arrays, size_t count) {
  std::vector<mx::array> values;
  values.reserve(count);
  for (size_t i = 0; i < count; i++) values.push_back(unwrap(arrays[i]));
  return values;
}

}  // namespace mlxb

using mlxb::guarded;
using mlxb::unwrap;

extern "C" {

const char *mlxb_last_error(void) { return mlxb::last_error.c_str(); }

void mlxb_free(mlxb_array array) { delete array; }

size_t mlxb_vector_size(mlxb_vector vector) { return vector ? vector->values.size() : 0; }

int mlxb_vector_get(mlxb_vector vector, size_t index, mlxb_array *out) {
  return guarded([&] {
    if (vector == nullptr || index >= vector->values.size()) throw std::out_of_range("array list index out of range");
    *out = mlxb::wrap(vector->values[index]);
  });
}

void mlxb_vector_free(mlxb_vector vector) { delete vector; }

int mlxb_copy_handle(mlxb_array array, mlxb_array *out) {
  return guarded([&] { *out = mlxb::wrap(unwrap(array)); });
}

size_t mlxb_dtype_size(mlxb_dtype dtype) {
  size_t size = 0;
  guarded([&] { size = mlxb::to_mlx(dtype).size(); });
  return size;
}

int mlxb_from_data(const void *data, mlxb_dtype dtype, const int32_t *shape, size_t ndim, mlxb_array *out) {
  return guarded([&] {
    mx::Shape dims(shape, shape + ndim);
    size_t count = 1;
    for (auto d : dims) {
      if (d < 0) throw std::invalid_argument("negative dimension in shape");
      count *= static_cast<size_t>(d);
    }
    static const uint64_t no_elements = 0;
    if (data == nullptr && count > 0) throw std::invalid_argument("null data pointer for a non-empty array");
    if (data == nullptr) data = &no_elements;
    mx::Dtype type = mlxb::to_mlx(dtype);
    // The typed constructor copies through MLX's allocator, so the memory is counted and device-visible.
    switch (dtype) {
      case MLXB_BOOL: *out = mlxb::wrap(mx::array(static_cast<const bool *>(data), dims, type)); break;
      case MLXB_UINT8: *out = mlxb::wrap(mx::array(static_cast<const uint8_t *>(data), dims, type)); break;
      case MLXB_UINT32: *out = mlxb::wrap(mx::array(static_cast<const uint32_t *>(data), dims, type)); break;
      case MLXB_INT32: *out = mlxb::wrap(mx::array(static_cast<const int32_t *>(data), dims, type)); break;
      case MLXB_INT64: *out = mlxb::wrap(mx::array(static_cast<const int64_t *>(data), dims, type)); break;
      case MLXB_FLOAT16: *out = mlxb::wrap(mx::array(static_cast<const mx::float16_t *>(data), dims, type)); break;
      case MLXB_BFLOAT16: *out = mlxb::wrap(mx::array(static_cast<const mx::bfloat16_t *>(data), dims, type)); break;
      case MLXB_FLOAT32: *out = mlxb::wrap(mx::array(static_cast<const float *>(data), dims, type)); break;
    }
  });
}

int mlxb_ndim(mlxb_array array, size_t *out) {
  return guarded([&] { *out = unwrap(array).ndim(); });
}

int mlxb_shape(mlxb_array array, int32_t *shape, size_t capacity) {
  return guarded([&] {
    const auto &dims = unwrap(array).shape();
    for (size_t i = 0; i < dims.size() && i < capacity; i++) shape[i] = dims[i];
  });
}

int mlxb_dtype_of(mlxb_array array, mlxb_dtype *out) {
  return guarded([&] { *out = mlxb::from_mlx(unwrap(array).dtype()); });
}

int mlxb_size(mlxb_array array, size_t *out) {
  return guarded([&] { *out = unwrap(array).size(); });
}

int mlxb_eval(const mlxb_array *arrays, size_t count) {
  return guarded([&] { mx::eval(mlxb::unwrap_all(arrays, count)); });
}

int mlxb_async_eval(const mlxb_array *arrays, size_t count) {
  return guarded([&] { mx::async_eval(mlxb::unwrap_all(arrays, count)); });
}

int mlxb_read(mlxb_array array, void *buffer, size_t byte_count) {
  return guarded([&] {
    // Materialise a contiguous row-major copy; views (transposes, slices) may have other strides.
    mx::array contiguous = mx::contiguous(unwrap(array));
    contiguous.eval();
    size_t needed = contiguous.nbytes();
    if (byte_count != needed) {
      throw std::invalid_argument("read buffer holds " + std::to_string(byte_count) + " bytes; the array needs " +
                                  std::to_string(needed));
    }
    if (needed > 0) std::memcpy(buffer, contiguous.data<uint8_t>(), needed);
  });
}

}  // extern "C"
