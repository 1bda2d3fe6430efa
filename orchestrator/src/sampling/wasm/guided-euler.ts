// The float32 CFG + Euler step in WebAssembly (guided-euler.c, SIMD): the same numbers as guidedEulerStepFloat32, in
// a fraction of the time. Inputs are copied into the module's memory and the result out of it (a few MB at 1024²,
// far cheaper than the scalar JavaScript loop); the caller's arrays never alias memory that can move when it grows.
import { GUIDED_EULER_WASM } from "./guided-euler-module.js";

// The few WebAssembly declarations used here (the project's TypeScript libraries do not include them).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

interface Exports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  guided_euler_step(latents: number, cond: number, uncond: number, out: number, combined: number, tokens: number,
    channels: number, scale: number, dt: number): void;
}

let instance: Exports | null | undefined;

function loaded(): Exports | null {
  if (instance === undefined) {
    try {
      const compiled = new WebAssembly.Module(Buffer.from(GUIDED_EULER_WASM, "base64"));
      instance = new WebAssembly.Instance(compiled, {}).exports as unknown as Exports;
    } catch {
      instance = null;  // no WebAssembly with SIMD here: callers fall back to the JavaScript loop
    }
  }
  return instance;
}

/** Where our arrays start in the module's memory: above its stack and data (which fit in its first pages). */
const ARRAYS_START = 1 << 20;

/** Little-endian float32 bytes of a tensor or array (a view). */
export type Float32Bytes = Uint8Array;

export const float32Bytes = (values: Float32Array): Float32Bytes =>
  new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

/**
 * guidedEulerStepFloat32 in WebAssembly, reading the inputs as float32 bytes at any alignment (a prediction straight
 * from a response message); returns null when WebAssembly is not available here or `channels` is not a multiple of 4.
 */
export function guidedEulerStepWasm(
  latents: Float32Bytes, cond: Float32Bytes, uncond: Float32Bytes, scale: number, channels: number,
  sigma: number, sigmaNext: number, out: Float32Array,
): Float32Array | null {
  const wasm = loaded();
  if (!wasm || channels % 4 !== 0) return null;  // four channels per SIMD step
  const bytes = out.byteLength;
  if (latents.byteLength < bytes || cond.byteLength < bytes || uncond.byteLength < bytes) {
    throw new Error(`the CFG step needs ${bytes} bytes of latents and of each prediction`);
  }
  const needed = ARRAYS_START + 4 * bytes + channels * 4;
  if (wasm.memory.buffer.byteLength < needed) wasm.memory.grow(Math.ceil((needed - wasm.memory.buffer.byteLength) / 65536));
  const memory = new Uint8Array(wasm.memory.buffer);
  const [l, c, u, o, combined] = [0, 1, 2, 3, 4].map((index) => ARRAYS_START + index * bytes) as [number, number, number, number, number];
  memory.set(latents.subarray(0, bytes), l);
  memory.set(cond.subarray(0, bytes), c);
  memory.set(uncond.subarray(0, bytes), u);
  wasm.guided_euler_step(l, c, u, o, combined, out.length / channels, channels, scale, Math.fround(sigmaNext - sigma));
  float32Bytes(out).set(memory.subarray(o, o + bytes));
  return out;
}
