// Counter-based hashed weights, exactly representable in bfloat16 (see NucleusModelTests/HashedWeights.swift and
// tools/reference/make_dit_fixtures.py, which computes the same numbers with NumPy).
#pragma once
#include <stddef.h>
#include <stdint.h>

// Fills out[0..<count] with the bf16 bit patterns of elements first..<first+count of a tensor whose hash seed is
// `seed`: element i takes levels[q + 128] where q is the hash's level in [-128, 127].
void hashed_weights_fill_bf16(uint32_t seed, uint64_t first, size_t count, const uint16_t levels[256], uint16_t *out);
