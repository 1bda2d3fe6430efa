// A copy-lean codec for the one message pair that carries tensors every sampling step: DenoiseRequest is written
// into a single buffer of its exact size (the latents' bytes copied once), DenoiseResponse is read with the
// predictions' bytes left where they arrived (views, no copy). ts-proto's generated codec, used for every other
// message, grows a writer through chunks and copies every bytes field on decode; the bytes written here are the
// same as ts-proto's (checked by a test), and the decoder accepts any valid encoding of the messages.
import type { DenoiseRequest, DenoiseResponse, SharedSlice, Tensor } from "../generated/nucleus/engine/v1/engine.js";

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

/** Bytes of a varint for a non-negative integer up to 2^53, or for a negative int64 (ten bytes). */
function varintSize(value: number): number {
  if (value < 0) return 10;
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Bytes of a varint field of number below 16 (a one-byte tag); 0 for 0, which proto3 leaves out. */
function varintFieldSize(value: number): number {
  return value !== 0 ? 1 + varintSize(value) : 0;
}

class Writer {
  position = 0;
  constructor(readonly buffer: Buffer) {}

  varint(value: number): void {
    if (value < 0) {
      // int64 two's complement, as protobuf writes negative int64 values.
      let bits = BigInt.asUintN(64, BigInt(value));
      while (bits >= 128n) {
        this.buffer[this.position++] = Number(bits & 127n) | 128;
        bits >>= 7n;
      }
      this.buffer[this.position++] = Number(bits);
      return;
    }
    while (value >= 128) {
      this.buffer[this.position++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    this.buffer[this.position++] = value;
  }

  /** A varint field (number below 16), left out when 0 as proto3 does. */
  varintField(field: number, value: number): void {
    if (value === 0) return;
    this.varint((field << 3) | WIRE_VARINT);
    this.varint(value);
  }

  bytes(data: Uint8Array): void {
    this.varint(data.byteLength);
    this.buffer.set(data, this.position);
    this.position += data.byteLength;
  }
}

function packedSize(values: number[]): number {
  return values.reduce((total, value) => total + varintSize(value), 0);
}

function sliceSize(slice: SharedSlice): number {
  return varintFieldSize(slice.buffer) + varintFieldSize(slice.offset);
}

/** A SharedSlice field: tag, length and its (at most two) varints. */
function writeSlice(writer: Writer, field: number, slice: SharedSlice): void {
  writer.varint((field << 3) | WIRE_LENGTH);
  writer.varint(sliceSize(slice));
  writer.varintField(1, slice.buffer);
  writer.varintField(2, slice.offset);
}

function tensorSize(tensor: Tensor): number {
  let size = varintFieldSize(tensor.dtype);
  if (tensor.shape.length) {
    const shape = packedSize(tensor.shape);
    size += 1 + varintSize(shape) + shape;
  }
  if (tensor.data.byteLength) size += 1 + varintSize(tensor.data.byteLength) + tensor.data.byteLength;
  if (tensor.shared) size += 2 + sliceSize(tensor.shared);
  return size;
}

function writeTensor(writer: Writer, tensor: Tensor): void {
  writer.varintField(1, tensor.dtype);
  if (tensor.shape.length) {
    writer.varint((2 << 3) | WIRE_LENGTH);
    writer.varint(packedSize(tensor.shape));
    for (const dimension of tensor.shape) writer.varint(dimension);
  }
  if (tensor.data.byteLength) {
    writer.varint((3 << 3) | WIRE_LENGTH);
    writer.bytes(tensor.data);
  }
  if (tensor.shared) writeSlice(writer, 4, tensor.shared);
}

/** DenoiseRequest as protobuf bytes, in one buffer of exactly its size. */
export function encodeDenoiseRequest(request: DenoiseRequest): Buffer {
  const latents = request.latents;
  const latentsSize = latents ? tensorSize(latents) : 0;
  const handles = packedSize(request.conditioning);
  const size =
    (latents ? 1 + varintSize(latentsSize) + latentsSize : 0) +
    varintFieldSize(request.gridHeight) +
    varintFieldSize(request.gridWidth) +
    (request.timestep !== 0 ? 5 : 0) +
    (request.conditioning.length ? 1 + varintSize(handles) + handles : 0) +
    (request.predictionsTo ? 2 + sliceSize(request.predictionsTo) : 0);
  const writer = new Writer(Buffer.allocUnsafe(size));
  if (latents) {
    writer.varint((1 << 3) | WIRE_LENGTH);
    writer.varint(latentsSize);
    writeTensor(writer, latents);
  }
  writer.varintField(2, request.gridHeight);
  writer.varintField(3, request.gridWidth);
  if (request.timestep !== 0) {
    writer.varint((4 << 3) | WIRE_FIXED32);
    writer.buffer.writeFloatLE(request.timestep, writer.position);
    writer.position += 4;
  }
  if (request.conditioning.length) {
    writer.varint((5 << 3) | WIRE_LENGTH);
    writer.varint(handles);
    for (const handle of request.conditioning) writer.varint(handle);
  }
  if (request.predictionsTo) writeSlice(writer, 6, request.predictionsTo);
  if (writer.position !== size) throw new Error(`DenoiseRequest encoding wrote ${writer.position} of ${size} bytes`);
  return writer.buffer;
}

class Reader {
  position: number;
  constructor(readonly buffer: Buffer, start = 0, readonly end = buffer.length) {
    this.position = start;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.position >= this.end) throw new Error("truncated varint in a Denoise response");
      const byte = this.buffer[this.position++]!;
      value += (byte & 127) * scale;
      if (byte < 128) return value;
      scale *= 128;
    }
    throw new Error("malformed varint in a Denoise response");
  }

  /** A length-delimited field: its bounds within the buffer. */
  span(): [number, number] {
    const length = this.varint();
    const start = this.position;
    if (start + length > this.end) throw new Error("truncated field in a Denoise response");
    this.position += length;
    return [start, start + length];
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_FIXED64) this.position += 8;
    else if (wire === WIRE_LENGTH) this.span();
    else if (wire === WIRE_FIXED32) this.position += 4;
    else throw new Error(`unsupported wire type ${wire} in a Denoise response`);
  }
}

function readSlice(buffer: Buffer, start: number, end: number): SharedSlice {
  const reader = new Reader(buffer, start, end);
  const slice: SharedSlice = { buffer: 0, offset: 0 };
  while (reader.position < end) {
    const tag = reader.varint();
    if (tag === ((1 << 3) | WIRE_VARINT)) slice.buffer = reader.varint();
    else if (tag === ((2 << 3) | WIRE_VARINT)) slice.offset = reader.varint();
    else reader.skip(tag % 8);
  }
  return slice;
}

/** Dimensions above 2^53 or negative cannot be tensor sizes; the varint reader returns them inexactly. */
function readTensor(buffer: Buffer, start: number, end: number): Tensor {
  const reader = new Reader(buffer, start, end);
  const tensor: Tensor = { dtype: 0, shape: [], data: Buffer.alloc(0), shared: undefined };
  while (reader.position < end) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 1 && wire === WIRE_VARINT) {
      tensor.dtype = reader.varint();
    } else if (field === 2 && wire === WIRE_LENGTH) {
      const [from, to] = reader.span();
      const packed = new Reader(buffer, from, to);
      while (packed.position < to) tensor.shape.push(packed.varint());
    } else if (field === 2 && wire === WIRE_VARINT) {
      tensor.shape.push(reader.varint());
    } else if (field === 3 && wire === WIRE_LENGTH) {
      const [from, to] = reader.span();
      tensor.data = buffer.subarray(from, to);  // a view: the bytes stay where they arrived
    } else if (field === 4 && wire === WIRE_LENGTH) {
      tensor.shared = readSlice(buffer, ...reader.span());
    } else {
      reader.skip(wire);
    }
  }
  return tensor;
}

/** DenoiseResponse from protobuf bytes; the predictions' data are views into `bytes`. */
export function decodeDenoiseResponse(bytes: Buffer): DenoiseResponse {
  const reader = new Reader(bytes);
  const response: DenoiseResponse = { predictions: [], computeSeconds: 0 };
  while (reader.position < bytes.length) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 1 && wire === WIRE_LENGTH) {
      const [from, to] = reader.span();
      response.predictions.push(readTensor(bytes, from, to));
    } else if (field === 2 && wire === WIRE_FIXED64) {
      response.computeSeconds = bytes.readDoubleLE(reader.position);
      reader.position += 8;
    } else {
      reader.skip(wire);
    }
  }
  return response;
}
