// Bounds for quantized outputs against the float reference, as in swift-engine/Sources/NucleusModels/Support/
// ParityBounds.swift (derivations there): relative RMS deviation within 3 % for 8-bit and 17 × that for 4-bit.
import assert from "node:assert/strict";

export const QUANTIZED_BOUNDS = {
  eightBit: 0.03,
  fourBit: 0.03 * 17,
  /**
   * 4-bit against 8-bit. The steps are 17 times larger, but in a bf16 checkpoint the scales and biases are stored in
   * bf16 too: their rounding (relative 2⁻⁹) adds about as much error again as the 8-bit rounding itself in each of
   * scale and bias, so the 8-bit deviation grows by up to √3 and the ratio falls to about 17 / √3 ≈ 10; at 4-bit
   * deviations of 10 % and more the network also answers less than linearly. Half of that to twice 17: 4...34.
   * Outside it, 4-bit was not applied (ratio near 1) or computes something other than a finer grid would.
   */
  fourOverEight: [4, 34] as const,
  check(eight: number, four: number, what: string): void {
    assert.ok(eight > 1e-4, `${what}: 8-bit deviation ${eight} is float rounding: nothing was quantized`);
    assert.ok(eight <= this.eightBit, `${what}: 8-bit relative RMS deviation ${eight} > ${this.eightBit}`);
    assert.ok(four <= this.fourBit, `${what}: 4-bit relative RMS deviation ${four} > ${this.fourBit}`);
    const ratio = four / eight;
    assert.ok(ratio >= this.fourOverEight[0] && ratio <= this.fourOverEight[1],
      `${what}: 4-bit deviation ${four} is ${ratio} × the 8-bit one (${eight}); expected ${this.fourOverEight.join("...")}`);
  },
};
