// Our kernel bodies compiled for AVX-512 (used only on CPUs and systems that support it; see kernel_cpu.cpp).
#define NUCLEUS_ISA avx512
#define NUCLEUS_ISA_SIMD "kernel_simd_avx512.h"
#define NUCLEUS_ISA_TARGET "avx512f,avx2,fma"
#include "kernel_isa_unit.h"
