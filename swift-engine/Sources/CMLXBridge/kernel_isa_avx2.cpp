// Our kernel bodies compiled for AVX2 with FMA (used only on CPUs and systems that support it; see kernel_cpu.cpp).
#define NUCLEUS_ISA avx2
#define NUCLEUS_ISA_SIMD "kernel_simd_avx2.h"
#define NUCLEUS_ISA_TARGET "avx2,fma"
#include "kernel_isa_unit.h"
