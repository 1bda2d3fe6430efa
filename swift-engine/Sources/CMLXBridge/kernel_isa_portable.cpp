// Our kernel bodies in plain C++ (any CPU; the reference path for the SIMD variants in the parity tests).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernel_attention.hpp"
#include "kernel_elementwise.hpp"
#include "kernel_cpu.hpp"

namespace nucleus::kernels::portable {
#include "kernel_simd_portable.h"
#include "kernel_attention_body.h"
#include "kernel_elementwise_body.h"
}  // namespace nucleus::kernels::portable
