// One unit of our kernel bodies for one instruction set. A kernel_isa_<isa>.cpp defines NUCLEUS_ISA (the variant's
// namespace), NUCLEUS_ISA_SIMD (its kernel_simd_<isa>.h) and, for an x86-64 SIMD variant, NUCLEUS_ISA_TARGET (the
// compiler target of its functions), then includes this file. On other processors a SIMD variant is never selected
// (best_supported() says portable), so it gets the portable operations: the symbols exist either way.
#include "kernel_isa_prelude.h"

#define NUCLEUS_PRAGMA(text) _Pragma(#text)
#if defined(NUCLEUS_ISA_TARGET) && (defined(__x86_64__) || defined(_M_X64))
#include <immintrin.h>
#if defined(__clang__)
NUCLEUS_PRAGMA(clang attribute push(__attribute__((target(NUCLEUS_ISA_TARGET))), apply_to = function))
#else
NUCLEUS_PRAGMA(GCC push_options)
NUCLEUS_PRAGMA(GCC target(NUCLEUS_ISA_TARGET))
#endif
#define NUCLEUS_ISA_OPENED 1
#else
#undef NUCLEUS_ISA_SIMD
#define NUCLEUS_ISA_SIMD "kernel_simd_portable.h"
#endif

namespace nucleus::kernels::NUCLEUS_ISA {
#include NUCLEUS_ISA_SIMD
#include "kernel_attention_body.h"
#include "kernel_elementwise_body.h"
#include "kernel_gemm_body.h"
}  // namespace nucleus::kernels::NUCLEUS_ISA

#ifdef NUCLEUS_ISA_OPENED
#if defined(__clang__)
NUCLEUS_PRAGMA(clang attribute pop)
#else
NUCLEUS_PRAGMA(GCC pop_options)
#endif
#endif
