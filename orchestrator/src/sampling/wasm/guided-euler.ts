// The float32 CFG + Euler step in WebAssembly (guided-euler.c, SIMD): the same numbers as guidedEulerStepFloat32, in
// a fraction of the time. The step's arrays live in a WebAssembly memory; a sampling loop keeps its latents and
// receives its predictions there (GuidedEulerWorkspace), other callers' arrays are copied in and out.
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

let compiled: object | null | undefined;

/** The compiled module, or null where WebAssembly with SIMD is not available (callers use the JavaScript loop). */
function compiledModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(Buffer.from(GUIDED_EULER_WASM, "base64"));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** An instance of its own (its own memory), or null where the module cannot be compiled or instantiated here. */
function newInstance(): Exports | null {
  const module = compiledModule();
  if (!module) return null;
  try {
    return new WebAssembly.Instance(module, {}).exports as unknown as Exports;
  } catch {
    return null;
  }
}

/** Where our arrays start in the module's memory: above its stack and data (which fit in its first pages). */
const ARRAYS_START = 1 << 20;

/** Little-endian float32 bytes of a tensor or array (a view). */
export type Float32Bytes = Uint8Array;

export const float32Bytes = (values: Float32Array): Float32Bytes =>
  new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

/**
 * The step's arrays in the memory of a WebAssembly instance of its own, sized once: two latents slots (a step reads
 * one and writes the other) and the two predictions. A sampling loop that keeps its latents in `latents` and has
 * the predictions read into `predictions` moves no bytes in or out; anything else is copied in and out. The memory
 * never grows after creation, so the views stay valid for the workspace's life.
 */
export class GuidedEulerWorkspace {
  /** The latents slots (float32 views of the instance's memory). */
  readonly latents: [Float32Array, Float32Array];
  /** Where the conditional and the unconditional prediction go (float32 views of the instance's memory). */
  readonly predictions: [Float32Array, Float32Array];
  private readonly memory: Uint8Array;

  private constructor(private readonly wasm: Exports, readonly values: number, readonly channels: number) {
    const bytes = values * 4;
    const view = (slot: number) => new Float32Array(wasm.memory.buffer, ARRAYS_START + slot * bytes, values);
    this.latents = [view(0), view(1)];
    this.predictions = [view(2), view(3)];
    this.memory = new Uint8Array(wasm.memory.buffer);
  }

  /** A workspace for `values` float32 latents of `channels` per token; null without WebAssembly or when `channels` is not a multiple of 4. */
  static create(values: number, channels: number): GuidedEulerWorkspace | null {
    if (channels % 4 !== 0 || values % channels !== 0) return null;  // four channels per SIMD step
    const wasm = newInstance();
    if (!wasm) return null;
    const needed = ARRAYS_START + 4 * values * 4 + channels * 4;
    wasm.memory.grow(Math.ceil(Math.max(0, needed - wasm.memory.buffer.byteLength) / 65536));
    return new GuidedEulerWorkspace(wasm, values, channels);
  }

  /** The step of guidedEulerStepFloat32 into `out`: the next latents, `out` itself. */
  step(latents: Float32Bytes, cond: Float32Bytes, uncond: Float32Bytes, scale: number, sigma: number, sigmaNext: number, out: Float32Array): Float32Array {
    const bytes = this.values * 4;
    if (out.byteLength !== bytes || latents.byteLength < bytes || cond.byteLength < bytes || uncond.byteLength < bytes) {
      throw new Error(`the CFG step needs ${bytes} bytes of latents and of each prediction`);
    }
    const slot = (index: number) => ARRAYS_START + index * bytes;
    const at = (array: Uint8Array) => (array.buffer === this.memory.buffer ? array.byteOffset : -1);
    const into = (offset: number, array: Uint8Array) => {
      if (at(array) !== offset) this.memory.set(array.subarray(0, bytes), offset);
      return offset;
    };
    const from = at(latents) === slot(1) ? slot(1) : into(slot(0), latents);
    const to = from === slot(0) ? slot(1) : slot(0);
    if (at(float32Bytes(out)) === from) throw new Error("the CFG step cannot write over its input latents");
    const c = into(slot(2), cond);
    const u = into(slot(3), uncond);
    this.wasm.guided_euler_step(from, c, u, to, slot(4), this.values / this.channels, this.channels, scale, Math.fround(sigmaNext - sigma));
    if (at(float32Bytes(out)) !== to) float32Bytes(out).set(this.memory.subarray(to, to + bytes));
    return out;
  }
}

let scratch: GuidedEulerWorkspace | null = null;

/**
 * guidedEulerStepFloat32 in WebAssembly, reading the inputs as float32 bytes at any alignment (a prediction straight
 * from a response message), or in place from a workspace's memory (see GuidedEulerWorkspace); returns null when
 * WebAssembly is not available here or `channels` is not a multiple of 4.
 */
export function guidedEulerStepWasm(
  latents: Float32Bytes, cond: Float32Bytes, uncond: Float32Bytes, scale: number, channels: number,
  sigma: number, sigmaNext: number, out: Float32Array, workspace?: GuidedEulerWorkspace,
): Float32Array | null {
  if (workspace && workspace.values === out.length && workspace.channels === channels) {
    return workspace.step(latents, cond, uncond, scale, sigma, sigmaNext, out);
  }
  if (!scratch || scratch.values !== out.length || scratch.channels !== channels) {
    scratch = GuidedEulerWorkspace.create(out.length, channels);
    if (!scratch) return null;
  }
  return scratch.step(latents, cond, uncond, scale, sigma, sigmaNext, out);
}
