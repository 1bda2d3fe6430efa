// Rounding to the model's dtype, so that CFG and the Euler step round exactly where the reference pipeline does.

export type ModelDType = "float32" | "bfloat16";

const scratch = new DataView(new ArrayBuffer(4));

/** Rounds to the nearest bfloat16 (ties to even), returned as a number. */
export function roundBFloat16(value: number): number {
  if (Number.isNaN(value)) return value;
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  scratch.setUint32(0, rounded >>> 0);
  return scratch.getFloat32(0);
}

/** The rounding of one arithmetic result in `dtype` (float32 results go through Math.fround). */
export function rounder(dtype: ModelDType): (value: number) => number {
  return dtype === "bfloat16" ? (value) => roundBFloat16(Math.fround(value)) : Math.fround;
}

export function parseModelDType(text: string): ModelDType {
  if (text === "float32" || text === "bfloat16") return text;
  throw new Error(`the engine computes in ${text}; the sampling loop supports float32 and bfloat16`);
}
