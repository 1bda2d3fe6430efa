// Random bfloat16 values, fast enough to fill tens of gigabytes: a table of 65,536 normal samples per scale,
// indexed by a xorshift generator, so each element costs a few integer operations.

/** float32 -> bfloat16 bits, rounding to nearest even. */
export function bfloat16Bits(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value, true);
  const bits = view.getUint32(0, true);
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export class RandomBFloat16 {
  private state: number;
  private readonly tables = new Map<string, Uint16Array>();

  constructor(seed: number) {
    this.state = (seed | 0) || 0x9e3779b9;
  }

  private next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x;
    return x >>> 0;
  }

  /** 65,536 samples of N(mean, std²) as bfloat16 bits (Box–Muller). */
  private table(mean: number, std: number): Uint16Array {
    const key = `${mean}:${std}`;
    let table = this.tables.get(key);
    if (!table) {
      table = new Uint16Array(65536);
      for (let i = 0; i < table.length; i += 2) {
        const u1 = (this.next() + 1) / 4294967297;
        const u2 = this.next() / 4294967296;
        const radius = Math.sqrt(-2 * Math.log(u1));
        table[i] = bfloat16Bits(mean + std * radius * Math.cos(2 * Math.PI * u2));
        table[i + 1] = bfloat16Bits(mean + std * radius * Math.sin(2 * Math.PI * u2));
      }
      this.tables.set(key, table);
    }
    return table;
  }

  /** Fills `target` with N(mean, std²) samples. */
  fill(target: Uint16Array, mean: number, std: number): void {
    const table = this.table(mean, std);
    let x = this.state;
    const n = target.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      target[i] = table[x & 0xffff]!;
      target[i + 1] = table[x >>> 16]!;
    }
    if (i < n) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      target[i] = table[x & 0xffff]!;
    }
    this.state = x;
  }
}
