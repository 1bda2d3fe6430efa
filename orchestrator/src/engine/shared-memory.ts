// Denoise tensors through a shared-memory file instead of the messages, for an engine on this machine
// (AttachSharedMemory): moving megabytes through grpc-js's HTTP/2 costs milliseconds per step, a write and a read
// of a file in /dev/shm a tenth of that. Node cannot map files, so both sides use pwrite/pread on one file whose
// name is removed as soon as the engine has it open (nothing is left behind if either side dies).
import { randomBytes } from "node:crypto";
import { closeSync, constants, existsSync, ftruncateSync, openSync, unlinkSync } from "node:fs";
import { join } from "node:path";

import type { DenoiseRequest, DenoiseResponse, Tensor } from "../generated/nucleus/engine/v1/engine.js";
import { readFully, writeFully } from "../files/descriptor-io.js";
import { fromProtoTensor } from "../tensors/convert.js";
import { ELEMENT_SIZES } from "../tensors/safetensors.js";

export const SHARED_MEMORY_FOLDER = "/dev/shm";
/** Latents smaller than this go inside the message (a file is not worth it for a few KiB). */
const MIN_SHARED_BYTES = 64 << 10;

export interface SharedMemoryEngine {
  attachSharedMemory(path: string): Promise<{ buffer: number }>;
  detachSharedMemory(buffer: number): Promise<unknown>;
}

/** A private file in /dev/shm that the engine holds open as buffer `buffer`. */
class SharedMemoryFile {
  private constructor(private readonly fd: number, readonly buffer: number, readonly size: number) {}

  static async create(size: number, engine: SharedMemoryEngine): Promise<SharedMemoryFile> {
    const path = join(SHARED_MEMORY_FOLDER, `nucleus-${process.pid}-${randomBytes(8).toString("hex")}`);
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      ftruncateSync(fd, size);
      const { buffer } = await engine.attachSharedMemory(path);
      return new SharedMemoryFile(fd, buffer, size);
    } catch (error) {
      closeSync(fd);
      throw error;
    } finally {
      unlinkSync(path);
    }
  }

  write(data: Uint8Array, offset: number): void {
    writeFully(this.fd, data, offset);
  }

  /** `length` bytes from `offset`, read into `into` when it is large enough (fresh memory costs page faults). */
  read(offset: number, length: number, into?: Uint8Array): Buffer {
    const target = into && into.byteLength >= length ? Buffer.from(into.buffer, into.byteOffset, length) : Buffer.allocUnsafe(length);
    const read = readFully(this.fd, target, offset);
    if (read < length) throw new Error(`the shared-memory file ended at byte ${offset + read} of ${offset + length}`);
    return target;
  }

  close(engine: SharedMemoryEngine): void {
    closeSync(this.fd);
    engine.detachSharedMemory(this.buffer).catch(() => undefined);
  }
}

/** Bytes of a tensor the engine answered with (an unknown dtype is an error naming it). */
function byteLength(tensor: Tensor): number {
  const { dtype, shape } = fromProtoTensor(tensor);
  return shape.reduce((product, axis) => product * axis, ELEMENT_SIZES[dtype]!);
}

/**
 * One client's shared-memory channel for Denoise: latents are written to the file, the engine reads them there
 * and writes the predictions after them. One call at a time uses the file (a concurrent call, or one the file
 * cannot serve, sends bytes as usual); the file grows by attaching a larger one. When the engine cannot attach
 * files (another machine, another user, an older engine, no /dev/shm), the channel turns itself off.
 */
export class SharedDenoiseChannel {
  private file?: SharedMemoryFile;
  private busy = false;
  /** Why the channel is off, once it is. */
  offReason?: string;

  constructor(private readonly engine: SharedMemoryEngine) {
    if (!existsSync(SHARED_MEMORY_FOLDER)) this.offReason = `${SHARED_MEMORY_FOLDER} does not exist here`;
  }

  /**
   * `send` with the request's tensors moved to shared memory, the predictions read back into their `data` (into
   * `into[i]` for the i-th when given and large enough); null when this call cannot use the channel (the caller
   * sends the bytes itself).
   */
  async denoise(
    request: DenoiseRequest, send: (request: DenoiseRequest) => Promise<DenoiseResponse>, into: Uint8Array[] = [],
  ): Promise<DenoiseResponse | null> {
    const latents = request.latents;
    if (this.offReason || this.busy || !latents || latents.shared || latents.data.byteLength < MIN_SHARED_BYTES) return null;
    this.busy = true;
    try {
      const bytes = latents.data.byteLength;
      const file = await this.fileOf(bytes * (1 + request.conditioning.length));
      if (!file) return null;
      try {
        file.write(latents.data, 0);
      } catch (error) {
        this.offReason = `cannot write to shared memory: ${(error as Error).message}`;  // e.g. /dev/shm is full
        return null;
      }
      const response = await send({
        ...request,
        latents: { ...latents, data: Buffer.alloc(0), shared: { buffer: file.buffer, offset: 0 } },
        predictionsTo: { buffer: file.buffer, offset: bytes },
      });
      for (const [index, prediction] of response.predictions.entries()) {
        if (!prediction.shared) continue;
        prediction.data = file.read(prediction.shared.offset, byteLength(prediction), into[index]);
        prediction.shared = undefined;
      }
      return response;
    } finally {
      this.busy = false;
    }
  }

  close(): void {
    this.file?.close(this.engine);
    this.file = undefined;
  }

  /** A file of at least `size` bytes (twice that when it must grow, so growth is rare), or null when off. */
  private async fileOf(size: number): Promise<SharedMemoryFile | null> {
    if (this.file && this.file.size >= size) return this.file;
    this.close();
    try {
      this.file = await SharedMemoryFile.create(2 * size, this.engine);
      return this.file;
    } catch (error) {
      this.offReason = `shared memory is not available: ${(error as Error).message}`;
      return null;
    }
  }
}
