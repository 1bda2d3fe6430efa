// The C entry points to our own CPU kernels (kernel_cpu.hpp): the variant and sgemm in use, for tests, benchmarks
// and diagnostics, and the finiteness scan of request and response bytes.
#include "bridge_internal.hpp"
#include "kernel_attention.hpp"
#include "kernel_blas.hpp"
#include "kernel_cpu.hpp"
#include "kernel_elementwise_op.hpp"

namespace kernels = nucleus::kernels;

extern "C" {

const char *mlxb_cpu_kernels(void) { return kernels::isa_name(kernels::selected()); }

const char *mlxb_cpu_kernels_best(void) { return kernels::isa_name(kernels::best_supported()); }

int mlxb_cpu_kernels_select(const char *name) {
  return mlxb::guarded([&] { kernels::select(name); });
}

int mlxb_cpu_kernel_threads(void) { return kernels::worker_count(); }

const char *mlxb_cpu_sgemm(void) { return kernels::sgemm_name(); }

int mlxb_cpu_sgemm_mkl_available(void) { return kernels::mkl_available() ? 1 : 0; }

int mlxb_cpu_sgemm_select(const char *name) {
  return mlxb::guarded([&] { kernels::select_sgemm(name); });
}

int mlxb_float_bytes_finite(const void *data, size_t byte_count, mlxb_dtype dtype) {
  switch (dtype) {
    case MLXB_FLOAT32: return kernels::none_has_exponent(data, byte_count, uint32_t{0x7f800000});
    case MLXB_BFLOAT16: return kernels::none_has_exponent(data, byte_count, uint16_t{0x7f80});
    case MLXB_FLOAT16: return kernels::none_has_exponent(data, byte_count, uint16_t{0x7c00});
    default: return 1;
  }
}

int mlxb_cpu_attention_chunk_keys(int keys) { return kernels::set_attention_chunk_keys(keys); }

}  // extern "C"
