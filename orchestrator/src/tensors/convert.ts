// Tensor conversions between safetensors bytes, float arrays and the engine's proto Tensor.
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

export function toProtoTensor(tensor: TensorData): Tensor {
  const dtype = PROTO_DTYPES[tensor.dtype];
  if (dtype === undefined) throw new Error(`the engine does not take ${tensor.dtype} tensors`);
  return { dtype, shape: tensor.shape, data: Buffer.from(tensor.data) };
}

export function fromProtoTensor(tensor: Tensor): TensorData {
  const code = Object.entries(PROTO_DTYPES).find(([, value]) => value === tensor.dtype)?.[0];
  if (!code) throw new Error(`unknown tensor dtype ${tensor.dtype} from the engine`);
  return { dtype: code, shape: tensor.shape, data: Buffer.from(tensor.data) };
}

/** The values as float32 (from F32, BF16, F16, integer or bool storage). */
export function toFloat32(tensor: TensorData): Float32Array {
  const count = tensor.shape.reduce((a, b) => a * b, 1);
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
