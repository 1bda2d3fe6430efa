// Plain C interface to the MLX C++ core (libmlx), for Swift.
//
// Arrays are opaque handles owned by the caller and freed with mlxb_free. Every function that can fail returns
// 0 on success and nonzero on failure; the failure's message (MLX's own text for shape and type errors) is kept
// per thread and read with mlxb_last_error. No C++ exception ever crosses this interface.
#ifndef NUCLEUS_MLX_BRIDGE_H
#define NUCLEUS_MLX_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlxb_array_s *mlxb_array;

typedef enum {
  MLXB_BOOL = 0,
  MLXB_UINT8 = 1,
  MLXB_UINT32 = 2,
  MLXB_INT32 = 3,
  MLXB_INT64 = 4,
  MLXB_FLOAT16 = 5,
  MLXB_BFLOAT16 = 6,
  MLXB_FLOAT32 = 7,
} mlxb_dtype;

// --- errors and lifetime ---
const char *mlxb_last_error(void);
void mlxb_free(mlxb_array array);
int mlxb_copy_handle(mlxb_array array, mlxb_array *out);

// --- library, device and memory ---
const char *mlxb_version(void);
// "metal", "cuda" or "cpu": the backend of the default device.
const char *mlxb_backend(void);
// The device name as MLX reports it ("" when MLX has none, e.g. on the CPU backend).
int mlxb_device_name(char *buffer, size_t capacity);

typedef struct {
  uint64_t active_bytes;
  uint64_t peak_bytes;
  uint64_t cache_bytes;
  uint64_t limit_bytes;
  uint64_t device_total_bytes;  // 0 when MLX does not know it
} mlxb_memory_stats;

int mlxb_memory_stats_get(mlxb_memory_stats *out);
int mlxb_set_memory_limit(uint64_t bytes, uint64_t *previous);
int mlxb_set_cache_limit(uint64_t bytes, uint64_t *previous);
int mlxb_reset_peak_memory(void);
int mlxb_clear_cache(void);

// --- creation and inspection ---
// Copies `count` elements of `dtype` from `data` (row-major, little-endian) into a new array of `shape`.
int mlxb_from_data(const void *data, mlxb_dtype dtype, const int32_t *shape, size_t ndim, mlxb_array *out);
int mlxb_ndim(mlxb_array array, size_t *out);
// Writes at most `capacity` dimensions into `shape`.
int mlxb_shape(mlxb_array array, int32_t *shape, size_t capacity);
int mlxb_dtype_of(mlxb_array array, mlxb_dtype *out);
int mlxb_size(mlxb_array array, size_t *out);
size_t mlxb_dtype_size(mlxb_dtype dtype);

// --- evaluation and host access ---
int mlxb_eval(const mlxb_array *arrays, size_t count);
int mlxb_async_eval(const mlxb_array *arrays, size_t count);
// Evaluates `array` and copies its elements, row-major, into `buffer` (exactly size * dtype_size bytes).
int mlxb_read(mlxb_array array, void *buffer, size_t byte_count);

// --- ops ---
int mlxb_matmul(mlxb_array a, mlxb_array b, mlxb_array *out);
int mlxb_softmax(mlxb_array a, int axis, int precise, mlxb_array *out);

#ifdef __cplusplus
}
#endif

#endif
