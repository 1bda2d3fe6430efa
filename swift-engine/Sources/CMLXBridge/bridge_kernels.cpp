// Selection of our own CPU kernels (kernel_cpu.hpp) for tests, benchmarks and diagnostics.
#include "bridge_internal.hpp"
#include "kernel_attention.hpp"
#include "kernel_blas.hpp"
#include "kernel_cpu.hpp"
#include "kernel_elementwise.hpp"

namespace kernels = nucleus::kernels;

namespace {

// The scan in the selected variant (with "mlx", which names MLX's own operations, the best this CPU has).
template <typename Word>
bool none_has_exponent(const unsigned char *bytes, int64_t n, Word exponent) {
  using kernels::Isa;
  constexpr bool wide = sizeof(Word) == 4;
  const Isa selected = kernels::selected();
  switch (selected == Isa::mlx ? kernels::best_supported() : selected) {
    case Isa::avx512:
      return wide ? kernels::avx512::none_has_exponent32(bytes, n, exponent) : kernels::avx512::none_has_exponent16(bytes, n, exponent);
    case Isa::avx2:
      return wide ? kernels::avx2::none_has_exponent32(bytes, n, exponent) : kernels::avx2::none_has_exponent16(bytes, n, exponent);
    default:
      return wide ? kernels::portable::none_has_exponent32(bytes, n, exponent) : kernels::portable::none_has_exponent16(bytes, n, exponent);
  }
}

}  // namespace

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
  const auto *bytes = static_cast<const unsigned char *>(data);
  switch (dtype) {
    case MLXB_FLOAT32: return none_has_exponent<uint32_t>(bytes, static_cast<int64_t>(byte_count / 4), 0x7f800000u);
    case MLXB_BFLOAT16: return none_has_exponent<uint16_t>(bytes, static_cast<int64_t>(byte_count / 2), 0x7f80);
    case MLXB_FLOAT16: return none_has_exponent<uint16_t>(bytes, static_cast<int64_t>(byte_count / 2), 0x7c00);
    default: return 1;
  }
}

int mlxb_cpu_attention_chunk_keys(int keys) { return kernels::set_attention_chunk_keys(keys); }

}  // extern "C"
