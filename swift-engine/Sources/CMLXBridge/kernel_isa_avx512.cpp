// Our kernel bodies compiled for AVX-512 (used only on CPUs and systems that support it; see kernel_cpu.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "kernel_attention.hpp"
#include "kernel_elementwise.hpp"
#include "kernel_gemm.hpp"
#include "kernel_cpu.hpp"

// Full unrolling of the register-tile loops (their bounds are compile-time constants) keeps the tiles in registers.
#if defined(__clang__)
#define NUCLEUS_UNROLL _Pragma("clang loop unroll(full)")
#else
#define NUCLEUS_UNROLL
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

namespace nucleus::kernels::avx512 {
#include "kernel_exp_constants.h"
#include "kernel_simd_avx512.h"
#include "kernel_attention_body.h"
#include "kernel_elementwise_body.h"
#include "kernel_gemm_body.h"
}  // namespace nucleus::kernels::avx512

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else
// Not x86-64: this variant is never selected (best_supported() says portable); the portable operations fill in
// so that the symbols exist.
namespace nucleus::kernels::avx512 {
#include "kernel_simd_portable.h"
#include "kernel_attention_body.h"
#include "kernel_elementwise_body.h"
#include "kernel_gemm_body.h"
}  // namespace nucleus::kernels::avx512
#endif
