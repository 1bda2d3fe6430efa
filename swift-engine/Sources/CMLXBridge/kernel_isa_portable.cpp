// Our kernel bodies in plain C++ (any CPU; the reference path for the SIMD variants in the parity tests).
#define NUCLEUS_ISA portable
#define NUCLEUS_ISA_SIMD "kernel_simd_portable.h"
#include "kernel_isa_unit.h"
