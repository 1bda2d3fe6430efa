// Selection of our own CPU kernels (kernel_cpu.hpp) for tests, benchmarks and diagnostics.
#include "bridge_internal.hpp"
#include "kernel_attention.hpp"
#include "kernel_cpu.hpp"

namespace kernels = nucleus::kernels;

extern "C" {

const char *mlxb_cpu_kernels(void) { return kernels::isa_name(kernels::selected()); }

const char *mlxb_cpu_kernels_best(void) { return kernels::isa_name(kernels::best_supported()); }

int mlxb_cpu_kernels_select(const char *name) {
  return mlxb::guarded([&] { kernels::select(name); });
}

int mlxb_cpu_kernel_threads(void) { return kernels::worker_count(); }

int mlxb_cpu_attention_chunk_keys(int keys) { return kernels::set_attention_chunk_keys(keys); }

}  // extern "C"
