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
// MLX streams belong to the thread that made them; lazily built arrays remember their stream. A process that
// computes from several threads (one at a time) makes every thread use one shared stream: call this at the
// start of each computation on a thread.
int mlxb_use_shared_stream(void);
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
/// Keeps host memory freed in blocks of up to 32 MiB in the process (glibc) instead of returning it at once; call
/// once at start-up. mlxb_clear_cache returns it.
void mlxb_keep_freed_host_memory(void);

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

// --- moving bytes in and out without copies ---
// Byte buffers in MLX's memory (counted by MLX) for data on its way to becoming an array: a message decoder
// allocates one, writes the bytes into it, and mlxb_adopt_bytes makes it an array's storage without a copy.
// Returns NULL when the memory is not available.
void *mlxb_bytes_alloc(size_t size);
// Frees a buffer from mlxb_bytes_alloc that no array adopted; returns 0 (and does nothing) for any other pointer.
int mlxb_bytes_free(void *pointer);
// The array [shape] of `dtype` stored in the mlxb_bytes_alloc buffer at `pointer` (which must hold exactly its
// bytes). The array owns the buffer from then on: do not pass it to mlxb_bytes_free.
int mlxb_adopt_bytes(void *pointer, mlxb_dtype dtype, const int32_t *shape, size_t ndim, mlxb_array *out);
// Evaluates `array` and gives its bytes in place (row-major): valid while the array lives. Fails for arrays whose
// layout is not row-major contiguous (make one with mlxb_contiguous first).
int mlxb_data_view(mlxb_array array, const void **data, size_t *byte_count);

// --- lists of arrays (results of split and quantize) ---
typedef struct mlxb_vector_s *mlxb_vector;
size_t mlxb_vector_size(mlxb_vector vector);
int mlxb_vector_get(mlxb_vector vector, size_t index, mlxb_array *out);
void mlxb_vector_free(mlxb_vector vector);

// --- creation ---
int mlxb_scalar(double value, mlxb_dtype dtype, mlxb_array *out);
int mlxb_full(const int32_t *shape, size_t ndim, double value, mlxb_dtype dtype, mlxb_array *out);
int mlxb_zeros(const int32_t *shape, size_t ndim, mlxb_dtype dtype, mlxb_array *out);
int mlxb_ones(const int32_t *shape, size_t ndim, mlxb_dtype dtype, mlxb_array *out);
int mlxb_arange(double start, double stop, double step, mlxb_dtype dtype, mlxb_array *out);
// A PRNG key (uint32 [2]) for `seed`, and standard normal samples drawn with it (a null key uses MLX's global one).
int mlxb_random_key(uint64_t seed, mlxb_array *out);
int mlxb_random_split(mlxb_array key, int num, mlxb_array *out);
int mlxb_random_normal(const int32_t *shape, size_t ndim, mlxb_dtype dtype, mlxb_array key, mlxb_array *out);

// --- casts and shapes ---
int mlxb_astype(mlxb_array a, mlxb_dtype dtype, mlxb_array *out);
int mlxb_reshape(mlxb_array a, const int32_t *shape, size_t ndim, mlxb_array *out);
// Permutes axes; naxes == 0 reverses them.
int mlxb_transpose(mlxb_array a, const int32_t *axes, size_t naxes, mlxb_array *out);
// Strided slice over every axis: start/stop/strides hold ndim entries.
int mlxb_slice(mlxb_array a, const int32_t *start, const int32_t *stop, const int32_t *strides, size_t ndim,
               mlxb_array *out);
int mlxb_concatenate(const mlxb_array *arrays, size_t count, int axis, mlxb_array *out);
int mlxb_split_equal(mlxb_array a, int parts, int axis, mlxb_vector *out);
int mlxb_split_at(mlxb_array a, const int32_t *indices, size_t count, int axis, mlxb_vector *out);
int mlxb_expand_dims(mlxb_array a, const int32_t *axes, size_t naxes, mlxb_array *out);
// Removes size-1 axes; naxes == 0 removes all of them.
int mlxb_squeeze(mlxb_array a, const int32_t *axes, size_t naxes, mlxb_array *out);
int mlxb_broadcast_to(mlxb_array a, const int32_t *shape, size_t ndim, mlxb_array *out);
int mlxb_repeat(mlxb_array a, int repeats, int axis, mlxb_array *out);
int mlxb_contiguous(mlxb_array a, mlxb_array *out);

// --- indexing ---
int mlxb_take(mlxb_array a, mlxb_array indices, int axis, mlxb_array *out);
int mlxb_take_along_axis(mlxb_array a, mlxb_array indices, int axis, mlxb_array *out);
int mlxb_put_along_axis(mlxb_array a, mlxb_array indices, mlxb_array values, int axis, mlxb_array *out);
// Adds `values` into `a` at `indices` along `axis` (duplicates accumulate); shapes as for put_along_axis.
int mlxb_scatter_add_axis(mlxb_array a, mlxb_array indices, mlxb_array values, int axis, mlxb_array *out);
// General scatter-add: one index array per axis in `axes`; updates shaped indices.shape + slice shape.
int mlxb_scatter_add(mlxb_array a, const mlxb_array *indices, size_t count, mlxb_array updates, const int32_t *axes,
                     mlxb_array *out);
int mlxb_argpartition(mlxb_array a, int kth, int axis, mlxb_array *out);
int mlxb_argsort(mlxb_array a, int axis, mlxb_array *out);

// --- elementwise ---
typedef enum {
  MLXB_NEGATIVE = 0,
  MLXB_EXP,
  MLXB_LOG,
  MLXB_SQRT,
  MLXB_RSQRT,
  MLXB_TANH,
  MLXB_SIGMOID,
  MLXB_SILU,
  MLXB_SIN,
  MLXB_COS,
  MLXB_ABS,
  MLXB_SQUARE,
  MLXB_FLOOR,
  MLXB_LOGICAL_NOT,
} mlxb_unary_op;

typedef enum {
  MLXB_ADD = 0,
  MLXB_SUBTRACT,
  MLXB_MULTIPLY,
  MLXB_DIVIDE,
  MLXB_MAXIMUM,
  MLXB_MINIMUM,
  MLXB_POWER,
  MLXB_EQUAL,
  MLXB_NOT_EQUAL,
  MLXB_LESS,
  MLXB_LESS_EQUAL,
  MLXB_GREATER,
  MLXB_GREATER_EQUAL,
  MLXB_LOGICAL_AND,
  MLXB_LOGICAL_OR,
} mlxb_binary_op;

int mlxb_unary(mlxb_unary_op op, mlxb_array a, mlxb_array *out);
int mlxb_binary(mlxb_binary_op op, mlxb_array a, mlxb_array b, mlxb_array *out);
// Either bound may be null.
int mlxb_clip(mlxb_array a, mlxb_array low, mlxb_array high, mlxb_array *out);
int mlxb_where(mlxb_array condition, mlxb_array x, mlxb_array y, mlxb_array *out);

// --- reductions (naxes == 0: over all axes) ---
typedef enum { MLXB_SUM = 0, MLXB_MEAN, MLXB_MAX, MLXB_MIN, MLXB_ARGMAX } mlxb_reduce_op;
int mlxb_reduce(mlxb_reduce_op op, mlxb_array a, const int32_t *axes, size_t naxes, int keepdims, mlxb_array *out);
int mlxb_l2_norm(mlxb_array a, const int32_t *axes, size_t naxes, int keepdims, mlxb_array *out);

// --- matmuls and fused ops ---
int mlxb_matmul(mlxb_array a, mlxb_array b, mlxb_array *out);
// beta * c + alpha * (a @ b)
int mlxb_addmm(mlxb_array c, mlxb_array a, mlxb_array b, float alpha, float beta, mlxb_array *out);
int mlxb_softmax(mlxb_array a, int axis, int precise, mlxb_array *out);
// Normalises over the last axis; weight and bias may be null.
int mlxb_layer_norm(mlxb_array x, mlxb_array weight, mlxb_array bias, float eps, mlxb_array *out);
int mlxb_rms_norm(mlxb_array x, mlxb_array weight, float eps, mlxb_array *out);

// x · cos + swap_pairs(x) · sin over the last axis (even length), swap_pairs exchanging elements 2k and 2k+1:
// a rotary embedding of interleaved pairs from precomputed tables; cos and sin broadcast to x's shape.
int mlxb_rotate_pairs(mlxb_array x, mlxb_array cos, mlxb_array sin, mlxb_array *out);

typedef enum { MLXB_MASK_NONE = 0, MLXB_MASK_CAUSAL, MLXB_MASK_ARRAY } mlxb_mask_mode;
// q [B, Hq, L, D], k/v [B, Hkv, S, D] with Hq % Hkv == 0. With MLXB_MASK_ARRAY, `mask` is boolean (true = attend)
// or additive, broadcastable to [B, Hq, L, S].
int mlxb_scaled_dot_product_attention(mlxb_array q, mlxb_array k, mlxb_array v, float scale, mlxb_mask_mode mode,
                                      mlxb_array mask, mlxb_array *out);
// x NHWC, weight OHWI.
int mlxb_conv2d(mlxb_array x, mlxb_array weight, int stride_h, int stride_w, int pad_h, int pad_w, int dilation_h,
                int dilation_w, int groups, mlxb_array *out);
// Nearest-neighbour 2x upsampling of NHWC images (each pixel becomes a 2x2 block).
int mlxb_upsample_nearest_2x(mlxb_array x, mlxb_array *out);

// --- quantization (affine, along the last axis) ---
// out receives [packed weight (uint32), scales, biases].
int mlxb_quantize(mlxb_array w, int group_size, int bits, mlxb_vector *out);
int mlxb_dequantize(mlxb_array w, mlxb_array scales, mlxb_array biases, int group_size, int bits, mlxb_array *out);
int mlxb_quantized_matmul(mlxb_array x, mlxb_array w, mlxb_array scales, mlxb_array biases, int transpose,
                          int group_size, int bits, mlxb_array *out);
// Batched matmuls where lhs/rhs_indices (either may be null) pick the matrices of a and b for each output.
int mlxb_gather_mm(mlxb_array a, mlxb_array b, mlxb_array lhs_indices, mlxb_array rhs_indices, int sorted_indices,
                   mlxb_array *out);
int mlxb_gather_qmm(mlxb_array x, mlxb_array w, mlxb_array scales, mlxb_array biases, mlxb_array lhs_indices,
                    mlxb_array rhs_indices, int transpose, int group_size, int bits, int sorted_indices,
                    mlxb_array *out);

// --- our own CPU kernels (CPU backend; see kernel_cpu.hpp) ---
// The variant new operations use: "mlx" (MLX's built-in operations), "portable", "avx2" or "avx512".
const char *mlxb_cpu_kernels(void);
// The best variant this CPU supports.
const char *mlxb_cpu_kernels_best(void);
// Selects a variant by name ("auto" = the best supported); fails for unknown names and unsupported variants.
int mlxb_cpu_kernels_select(const char *name);
// Threads the kernels run on (NUCLEUS_CPU_THREADS, else the CPUs this process may use).
int mlxb_cpu_kernel_threads(void);
// The sgemm our matmul and conv2d kernels call (kernel_blas.hpp): "mkl", "openblas", "reference" or "none".
const char *mlxb_cpu_sgemm(void);
// 1 when oneMKL was found and loaded (setup unpacks it beside the BLAS library on x86-64 Linux).
int mlxb_cpu_sgemm_mkl_available(void);
// Selects "auto" (MKL when available), "mkl" or "openblas"; fails for unknown names and for MKL when it cannot be
// loaded (the error says why).
int mlxb_cpu_sgemm_select(const char *name);
// 1 when the `byte_count` bytes at `data` (any alignment), read as `dtype` words, hold no NaN or infinity (an
// exponent of all ones), 0 otherwise; 1 for dtypes that are not floating point. Vectorised in the selected CPU
// kernel variant (the best one for "mlx"); a request's or response's tensor is checked without making it an array.
int mlxb_float_bytes_finite(const void *data, size_t byte_count, mlxb_dtype dtype);
// At most `keys` keys per chunk in the fused attention (0 = as many as the cache budget allows; long sequences are
// then processed chunk by chunk with an online softmax): a knob for tests. Returns the previous value.
int mlxb_cpu_attention_chunk_keys(int keys);

// --- safetensors files ---
typedef struct mlxb_tensor_file_s *mlxb_tensor_file;
// Lazy: tensors are read from disk when evaluated.
int mlxb_load_safetensors(const char *path, mlxb_tensor_file *out);
size_t mlxb_tensor_file_count(mlxb_tensor_file file);
const char *mlxb_tensor_file_name(mlxb_tensor_file file, size_t index);
int mlxb_tensor_file_array(mlxb_tensor_file file, size_t index, mlxb_array *out);
size_t mlxb_tensor_file_metadata_count(mlxb_tensor_file file);
const char *mlxb_tensor_file_metadata_key(mlxb_tensor_file file, size_t index);
const char *mlxb_tensor_file_metadata_value(mlxb_tensor_file file, size_t index);
void mlxb_tensor_file_free(mlxb_tensor_file file);
// Reads a tensor of `dtype` and `shape` stored at `offset` of the regular file `path` into a new (evaluated) array.
// Refuses FIFOs and other non-regular files (links are followed), and files shorter than offset + size.
int mlxb_read_file_range(const char *path, uint64_t offset, mlxb_dtype dtype, const int32_t *shape, size_t ndim,
                         mlxb_array *out);
int mlxb_save_safetensors(const char *path, const char *const *names, const mlxb_array *arrays, size_t count,
                          const char *const *metadata_keys, const char *const *metadata_values,
                          size_t metadata_count);

#ifdef __cplusplus
}
#endif

#endif
