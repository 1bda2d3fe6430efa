// Library version, backend and device queries, memory statistics and limits.
#include <climits>  // first: it brings glibc's __GLIBC__ for the test below
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <cstring>

#include "bridge_internal.hpp"

namespace mx = mlx::core;

using mlxb::guarded;

extern "C" {

const char *mlxb_version(void) { return mx::version(); }

int mlxb_use_shared_stream(void) {
  return guarded([] {
    static const mx::Stream shared = mx::new_thread_unsafe_stream(mx::default_device());
    mx::set_default_stream(shared);
  });
}

const char *mlxb_backend(void) {
  try {
    if (mx::metal::is_available()) return "metal";
    if (mx::cu::is_available()) return "cuda";
  } catch (...) {
  }
  return "cpu";
}

int mlxb_device_name(char *buffer, size_t capacity) {
  return guarded([&] {
    std::string name;
    const auto &info = mx::device_info(mx::default_device());
    auto found = info.find("device_name");
    if (found != info.end() && std::holds_alternative<std::string>(found->second)) {
      name = std::get<std::string>(found->second);
    }
    if (capacity > 0) {
      std::strncpy(buffer, name.c_str(), capacity - 1);
      buffer[capacity - 1] = '\0';
    }
  });
}

int mlxb_memory_stats_get(mlxb_memory_stats *out) {
  return guarded([&] {
    out->active_bytes = mx::get_active_memory();
    out->peak_bytes = mx::get_peak_memory();
    out->cache_bytes = mx::get_cache_memory();
    out->limit_bytes = mx::get_memory_limit();
    out->device_total_bytes = 0;
    const auto &info = mx::device_info(mx::default_device());
    for (const char *key : {"total_memory", "memory_size"}) {
      auto found = info.find(key);
      if (found != info.end() && std::holds_alternative<size_t>(found->second)) {
        out->device_total_bytes = std::get<size_t>(found->second);
        break;
      }
    }
  });
}

int mlxb_set_memory_limit(uint64_t bytes, uint64_t *previous) {
  return guarded([&] {
    size_t old = mx::set_memory_limit(bytes);
    if (previous) *previous = old;
  });
}

int mlxb_set_cache_limit(uint64_t bytes, uint64_t *previous) {
  return guarded([&] {
    size_t old = mx::set_cache_limit(bytes);
    if (previous) *previous = old;
  });
}

int mlxb_reset_peak_memory(void) {
  return guarded([] { mx::reset_peak_memory(); });
}

int mlxb_clear_cache(void) {
  return guarded([] {
    mx::clear_cache();
#ifdef __GLIBC__
    malloc_trim(0);  // what keep_freed_host_memory keeps goes back to the system here
#endif
  });
}

// MLX's CPU backend takes every array from malloc, and glibc gives freed blocks of 128 KiB and more back to the
// system (munmap, heap trimming): each forward's activations were fresh pages again, about 70,000 page faults per
// mid-size 512² forward and 15 % of its time on a virtual machine. Freed blocks up to 32 MiB (glibc's largest
// mmap threshold) now stay in the process for the next forward, and a heap keeps up to 256 MiB free at its top
// (the same faults as keeping everything, with a bound); larger blocks (weights) still go back when freed, and
// mlxb_clear_cache (after unloading) returns the rest.
void mlxb_keep_freed_host_memory(void) {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

}  // extern "C"
