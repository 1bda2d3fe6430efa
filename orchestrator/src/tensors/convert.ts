// Tensor conversions between safetensors bytes, float arrays and the engine's proto Tensor. Bytes move as views
// wherever they can (a proto Tensor shares the memory of the TensorData it came from, float32 data is read in
// place); values are converted with typed-array loops, never per element through a DataView.
import { endianness } from "node:os";

import { DType, type Tensor } from "../generated/nucleus/engine/v1/engine.js";
import type { TensorData } from "./safetensors.js";

const PROTO_DTYPES: Record<string, DType> = {
  F32: DType.DTYPE_FLOAT32,
  BF16: DType.DTYPE_BFLOAT16,
  F16: DType.DTYPE_FLOAT16,
  I32: DType.DTYPE_INT32,
  U32: DType.DTYPE_UINT32,
  U8: DType.DTYPE_UINT8,
  BOOL: DType.DTYPE_BOOL,
};

const CODES = new Map(Object.entries(PROTO_DTYPES).map(([code, dtype]) => [dtype, code]));

/** Typed arrays read host-order numbers; tensors are little-endian, so typed views are only used on such hosts. */
const littleEndian = endianness() === "LE";

/** A Buffer over the same memory (no copy). */
function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The proto Tensor for `tensor`, sharing its bytes. */
export function toProtoTensor(tensor: TensorData): Tensor {
  const dtype = PROTO_DTYPES[tensor.dtype];
  if (dtype === undefined) throw new Error(`the engine does not take ${tensor.dtype} tensors`);
  return { dtype, shape: tensor.shape, data: bufferView(tensor.data) };
}

/** The TensorData for a proto Tensor from the engine, sharing its bytes. */
export function fromProtoTensor(tensor: Tensor): TensorData {
  const code = CODES.get(tensor.dtype);
  if (!code) throw new Error(`unknown tensor dtype ${tensor.dtype} from the engine`);
  return { dtype: code, shape: tensor.shape, data: bufferView(tensor.data) };
}

function elementCount(tensor: TensorData): number {
  return tensor.shape.reduce((a, b) => a * b, 1);
}

/** `count` elements of `size` bytes as a typed array over the tensor's memory, or over an aligned copy. */
function typedView<T>(tensor: TensorData, size: number, make: (buffer: ArrayBufferLike, offset: number, length: number) => T): T {
  const count = elementCount(tensor);
  if (tensor.data.byteLength < count * size) {
    throw new Error(`a ${tensor.dtype} tensor of shape [${tensor.shape.join(", ")}] needs ${count * size} bytes, not ${tensor.data.byteLength}`);
  }
  let bytes: Uint8Array = tensor.data;
  if (bytes.byteOffset % size !== 0) bytes = new Uint8Array(bytes.subarray(0, count * size));  // realign by copying
  return make(bytes.buffer, bytes.byteOffset, count);
}

/**
 * F32 values read in place: a Float32Array over the tensor's own memory. When the bytes are not 4-byte aligned
 * (a protobuf field can start anywhere) they are copied into `scratch` if it is large enough (a buffer the caller
 * reuses, so that a step does not allocate), else into a new array. Writing to the result may write to the tensor.
 */
export function float32View(tensor: TensorData, scratch?: Float32Array): Float32Array {
  if (tensor.dtype !== "F32" || !littleEndian) return toFloat32(tensor);
  const count = elementCount(tensor);
  if (tensor.data.byteOffset % 4 !== 0 && scratch && scratch.length >= count && tensor.data.byteLength >= count * 4) {
    new Uint8Array(scratch.buffer, scratch.byteOffset, count * 4).set(tensor.data.subarray(0, count * 4));
    return scratch.subarray(0, count);
  }
  return typedView(tensor, 4, (buffer, offset, length) => new Float32Array(buffer, offset, length));
}

/** The values as a new float32 array (from F32, BF16, F16, integer or bool storage). */
export function toFloat32(tensor: TensorData): Float32Array {
  const count = elementCount(tensor);
  if (!littleEndian) return toFloat32Portable(tensor, count);
  switch (tensor.dtype) {
    case "F32":
      return float32View(tensor).slice();
    case "BF16": {
      // A bfloat16 is the top half of a float32: widen the bits.
      const halves = typedView(tensor, 2, (b, o, n) => new Uint16Array(b, o, n));
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = halves[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    case "F16": {
      const halves = typedView(tensor, 2, (b, o, n) => new Uint16Array(b, o, n));
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(halves[i]!);
      return out;
    }
    case "I32": return Float32Array.from(typedView(tensor, 4, (b, o, n) => new Int32Array(b, o, n)));
    case "U32": return Float32Array.from(typedView(tensor, 4, (b, o, n) => new Uint32Array(b, o, n)));
    case "U8": case "BOOL": return Float32Array.from(tensor.data.subarray(0, count));
    case "I64": {
      const values = typedView(tensor, 8, (b, o, n) => new BigInt64Array(b, o, n));
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(values[i]!);
      return out;
    }
    default: throw new Error(`cannot read ${tensor.dtype} values as float32`);
  }
}

/** Byte-by-byte reading for big-endian hosts. */
function toFloat32Portable(tensor: TensorData, count: number): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  for (let i = 0; i < count; i++) {
    switch (tensor.dtype) {
      case "F32": out[i] = view.getFloat32(i * 4, true); break;
      case "BF16": out[i] = bfloat16ToFloat(view.getUint16(i * 2, true)); break;
      case "F16": out[i] = halfToFloat(view.getUint16(i * 2, true)); break;
      case "I32": out[i] = view.getInt32(i * 4, true); break;
      case "U32": out[i] = view.getUint32(i * 4, true); break;
      case "U8": case "BOOL": out[i] = view.getUint8(i); break;
      case "I64": out[i] = Number(view.getBigInt64(i * 8, true)); break;
      default: throw new Error(`cannot read ${tensor.dtype} values as float32`);
    }
  }
  return out;
}

/** A TensorData over the float32 array's memory (no copy). */
export function float32Tensor(values: Float32Array, shape: number[]): TensorData {
  return { dtype: "F32", shape, data: Buffer.from(values.buffer, values.byteOffset, values.byteLength) };
}

const scratch = new DataView(new ArrayBuffer(4));

function bfloat16ToFloat(bits: number): number {
  scratch.setUint32(0, bits << 16);
  return scratch.getFloat32(0);
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
