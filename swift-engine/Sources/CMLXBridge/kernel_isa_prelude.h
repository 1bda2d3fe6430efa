// What every kernel_isa_<isa>.cpp unit includes before it opens its instruction-set region: the standard and
// project headers (outside the region, so no standard function is compiled for a wider instruction set than the
// rest of the program) and the unrolling hint the bodies use.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "kernel_attention.hpp"
#include "kernel_cpu.hpp"
#include "kernel_elementwise.hpp"
#include "kernel_gemm.hpp"

// Full unrolling of the register-tile loops (their bounds are compile-time constants) keeps the tiles in registers.
#if defined(__clang__)
#define NUCLEUS_UNROLL _Pragma("clang loop unroll(full)")
#else
#define NUCLEUS_UNROLL
#endif
