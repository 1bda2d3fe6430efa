// Our kernel bodies compiled for AVX-512 (used only on CPUs and systems that support it; see kernel_cpu.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "kernel_attention.hpp"
#include "kernel_elementwise.hpp"
#include "kernel_cpu.hpp"

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
}  // namespace nucleus::kernels::avx512

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else
namespace nucleus::kernels::avx512 {
std::size_t attention_scratch_bytes(const AttentionArgs &) { throw std::logic_error("AVX-512 kernels need x86-64"); }
void unary(UnaryOp, const float *, float *, int64_t) { throw std::logic_error("AVX-512 kernels need x86-64"); }
void attention(const AttentionArgs &) { throw std::logic_error("AVX-512 kernels need x86-64"); }
}  // namespace nucleus::kernels::avx512
#endif
