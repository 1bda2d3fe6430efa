// Our kernel bodies in plain C++ (any CPU; the reference path for the SIMD variants in the parity tests).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

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

namespace nucleus::kernels::portable {
#include "kernel_simd_portable.h"
#include "kernel_attention_body.h"
#include "kernel_elementwise_body.h"
#include "kernel_gemm_body.h"
}  // namespace nucleus::kernels::portable
