// Seeded Gaussian noise, the same for a seed on every platform and backend, and the same numbers NumPy gives:
//
//   numpy.random.RandomState(seed).standard_normal(count).astype(numpy.float32)
//
// i.e. MT19937 seeded with init_genrand(seed), 53-bit uniform doubles from two 32-bit outputs
// ((a >> 5) · 2^26 + (b >> 6)) / 2^53, and the Marsaglia polar method (each accepted pair yields
// f · x2 first, then f · x1). Latent noise is drawn in diffusers' unpacked layout [channels, H', W'] and then
// packed, so the initial latents for a seed can be reproduced in Python in two lines.

const N = 624;
const M = 397;

/** The Mersenne Twister MT19937 (32-bit outputs). */
export class MersenneTwister {
  private readonly state = new Uint32Array(N);
  private index = N;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`seed must be a whole number from 0 to 4294967295, not ${seed}`);
    }
    this.state[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const previous = this.state[i - 1]! ^ (this.state[i - 1]! >>> 30);
      this.state[i] = (Math.imul(1812433253, previous) + i) >>> 0;
    }
  }

  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  private twist(): void {
    const s = this.state;
    for (let i = 0; i < N; i++) {
      const y = (s[i]! & 0x80000000) | (s[(i + 1) % N]! & 0x7fffffff);
      s[i] = (s[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0)) >>> 0;
    }
    this.index = 0;
  }
}

/** `count` standard normal float32 samples for `seed`. */
export function standardNormal(seed: number, count: number): Float32Array {
  const random = new MersenneTwister(seed);
  const out = new Float32Array(count);
  let cached: number | undefined;
  for (let i = 0; i < count; i++) {
    if (cached !== undefined) {
      out[i] = cached;
      cached = undefined;
      continue;
    }
    let x1: number;
    let x2: number;
    let r2: number;
    do {
      x1 = 2 * random.nextDouble() - 1;
      x2 = 2 * random.nextDouble() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt((-2 * Math.log(r2)) / r2);
    cached = f * x1;
    out[i] = f * x2;
  }
  return out;
}

/** Initial latents for `seed`: noise drawn as [channels, 2h, 2w] (diffusers' layout), packed to [h·w, channels·4]. */
export function initialLatents(seed: number, channels: number, gridHeight: number, gridWidth: number): Float32Array {
  const height = 2 * gridHeight;
  const width = 2 * gridWidth;
  return packLatents(standardNormal(seed, channels * height * width), channels, gridHeight, gridWidth);
}

/** [C, 2h, 2w] -> packed [h·w, C·4] with token row·w + col and channel c·4 + dy·2 + dx (diffusers' _pack_latents). */
export function packLatents(unpacked: Float32Array, channels: number, gridHeight: number, gridWidth: number): Float32Array {
  const width = 2 * gridWidth;
  const packed = new Float32Array(unpacked.length);
  let index = 0;
  for (let row = 0; row < gridHeight; row++) {
    for (let column = 0; column < gridWidth; column++) {
      for (let c = 0; c < channels; c++) {
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            packed[index++] = unpacked[(c * 2 * gridHeight + 2 * row + dy) * width + 2 * column + dx]!;
          }
        }
      }
    }
  }
  return packed;
}
