// Built with optimization even in debug builds (Package.swift): a test fills hundreds of millions of elements.
#include "hashed_weights.h"

void hashed_weights_fill_bf16(uint32_t seed, uint64_t first, size_t count, const uint16_t levels[256], uint16_t *out) {
  uint32_t x0 = (uint32_t)first * 0x9E3779B1u + seed * 0x85EBCA77u + 0x165667B1u;
  for (size_t i = 0; i < count; i++, x0 += 0x9E3779B1u) {
    uint32_t x = x0;
    x ^= x >> 15;
    x *= 0x2C1B3C6Du;
    x ^= x >> 12;
    x *= 0x297A2D39u;
    x ^= x >> 15;
    out[i] = levels[x >> 24];
  }
}
