// Byte buffers that become arrays without a copy, and arrays' bytes read in place (see mlx_bridge.h).
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "bridge_internal.hpp"

namespace mx = mlx::core;

namespace {

// Buffers handed out by mlxb_bytes_alloc and not yet adopted or freed, by data pointer.
struct PendingBuffers {
  std::mutex mutex;
  std::unordered_map<void *, std::unique_ptr<mx::allocator::Data>> buffers;
};

PendingBuffers &pending() {
  static PendingBuffers *shared = new PendingBuffers();
  return *shared;
}

}  // namespace

using mlxb::guarded;
using mlxb::unwrap;

extern "C" {

void *mlxb_bytes_alloc(size_t size) {
  try {
    auto data = std::make_unique<mx::allocator::Data>(mx::allocator::malloc(size));
    void *pointer = data->buffer().raw_ptr();
    if (pointer == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(pending().mutex);
    pending().buffers.emplace(pointer, std::move(data));
    return pointer;
  } catch (...) {
    return nullptr;
  }
}

int mlxb_bytes_free(void *pointer) {
  std::unique_ptr<mx::allocator::Data> data;
  {
    std::lock_guard<std::mutex> lock(pending().mutex);
    auto found = pending().buffers.find(pointer);
    if (found == pending().buffers.end()) return 0;
    data = std::move(found->second);
    pending().buffers.erase(found);
  }
  return 1;  // `data` goes out of scope here and returns the buffer to MLX
}

int mlxb_adopt_bytes(void *pointer, mlxb_dtype dtype, const int32_t *shape, size_t ndim, mlxb_array *out) {
  return guarded([&] {
    std::unique_ptr<mx::allocator::Data> data;
    {
      std::lock_guard<std::mutex> lock(pending().mutex);
      auto found = pending().buffers.find(pointer);
      if (found == pending().buffers.end()) throw std::invalid_argument("mlxb_adopt_bytes: not a pending byte buffer");
      data = std::move(found->second);
      pending().buffers.erase(found);
    }
    *out = mlxb::wrap(mx::array(std::move(*data), mlxb::shape_from(shape, ndim), mlxb::to_mlx(dtype)));
  });
}

int mlxb_data_view(mlxb_array array, const void **data, size_t *byte_count) {
  return guarded([&] {
    mx::array value = unwrap(array);
    value.eval();
    if (!value.flags().row_contiguous) throw std::invalid_argument("mlxb_data_view needs a row-major contiguous array");
    *data = value.data<void>();
    *byte_count = value.nbytes();
  });
}

}  // extern "C"
