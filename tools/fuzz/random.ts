// A seeded random source (SplitMix64 over BigInt-free 32-bit halves: xoshiro128**), so a fuzz run is reproducible
// from its seed, plus the values fuzzers favour: boundaries of every integer width.

export class Random {
  private s: Uint32Array;

  constructor(seed: number) {
    // SplitMix32 to spread the seed over the state.
    let x = seed >>> 0 || 0x9e3779b9;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = new Uint32Array([next(), next(), next(), next()]);
  }

  /** A uniform 32-bit unsigned integer (xoshiro128**). */
  u32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** An integer in [low, high] (inclusive, within 2^32 of each other). */
  int(low: number, high: number): number {
    return low + Math.floor(this.float() * (high - low + 1));
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  bytes(count: number): Buffer {
    const out = Buffer.alloc(count);
    for (let i = 0; i < count; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** A new independent stream (for a sub-generator that must not shift the main sequence). */
  fork(): Random {
    return new Random(this.u32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Boundary values of unsigned 32-bit fields (proto uint32). */
export const EXTREME_U32 = [0, 1, 2, 3, 7, 8, 15, 16, 17, 255, 256, 1023, 1024, 4095, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1];

/** Boundary values of signed 32-bit fields (proto int32). */
export const EXTREME_I32 = [0, 1, -1, 2, -2, 8, -8, 36, -37, 1000, -1000, 2 ** 31 - 1, -(2 ** 31)];

/** Boundary values of 64-bit fields, as BigInt (proto uint64/int64 shapes, handles, memory limits). */
export const EXTREME_64: readonly bigint[] = [
  0n, 1n, 2n, 3n, 4n, 7n, 16n, 64n, 255n, 256n, 4096n, 65535n, 65536n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 31n + 1n,
  2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 1n, 2n ** 53n, 2n ** 62n, 2n ** 63n - 5n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n,
  -1n, -2n, -(2n ** 31n), -(2n ** 63n),
];

/** Float boundary values. */
export const EXTREME_FLOAT = [0, -0, 1, -1, 0.5, 1e-45, 1e-38, 3.4e38, -3.4e38, 1e300, Infinity, -Infinity, NaN, 1.0000001, 0.9999999];
