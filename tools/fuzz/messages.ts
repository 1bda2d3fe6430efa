// Structured fuzz messages: every RPC's request built field by field, mostly valid for the model that is loaded
// with one or more fields pushed to extreme values (boundaries of their integer width, huge or empty shapes,
// NaN/Inf, paths that are not model folders).
import type { Method } from "./rpc.js";
import { EXTREME_64, EXTREME_FLOAT, EXTREME_I32, EXTREME_U32, Random } from "./random.js";
import { Wire } from "./wire.js";

/** Names inside the fuzz scratch folder (the engine runs there, so requests use these relative paths). */
export const SCRATCH = {
  pipeline: "pipeline", // link to the tiny release-layout model (transformer, vae, text_encoder)
  tinyA: "tiny-a", // link to a tiny transformer-only model
  secret: "secret.txt", // a file whose content must never reach a client
  case: "case", // the checkpoint folder of the current checkpoint case
  out: "out", // where ConvertModel may write
} as const;

/**
 * Shared-memory files of this fuzz process (made by makeScratch): one the engine may attach, and ones it must
 * refuse (readable by others, a link to the canary file, a FIFO).
 */
export const SHARED_FILES = {
  valid: `/dev/shm/nucleus-fuzz-${process.pid}-valid`,
  public: `/dev/shm/nucleus-fuzz-${process.pid}-public`,
  link: `/dev/shm/nucleus-fuzz-${process.pid}-link`,
  fifo: `/dev/shm/nucleus-fuzz-${process.pid}-fifo`,
} as const;
/** The valid shared-memory file's size. */
export const SHARED_FILE_BYTES = 1 << 20;

const SHARED_PATHS = [
  ...Object.values(SHARED_FILES), "/dev/shm/nucleus-missing", "/dev/shm/other", "/dev/shm/nucleus-", "/dev/shm/nucleus-/x",
  `/dev/shm/../dev/shm/nucleus-fuzz-${process.pid}-valid`, `/dev/shm//nucleus-fuzz-${process.pid}-valid`, "/dev/shm", "/dev/shm/",
];

export type ModelState = "none" | "tiny-a" | "pipeline";

/** What the generators know about the engine now. */
export interface Knowledge {
  state: ModelState;
  handles: bigint[];
  /** A counter for fresh ConvertModel targets. */
  serial: number;
}

export interface Call {
  method: Method;
  payload: Buffer;
}

/** Sizes of the loaded transformer (in_channels, joint_attention_dim) and VAE (packed channels). */
function modelSizes(state: ModelState): { inChannels: number; joint: number; vaeChannels: number } {
  return state === "tiny-a" ? { inChannels: 64, joint: 24, vaeChannels: 16 } : { inChannels: 16, joint: 8, vaeChannels: 16 };
}

const DTYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 100, 2 ** 31 - 1, -1];
const ELEMENT_SIZE: Record<number, number> = { 1: 4, 2: 2, 3: 2, 4: 4, 5: 4, 6: 1, 7: 1 };
/** Largest tensor payload the fuzzer sends (keeps cases fast; size limits are tested separately). */
const MAX_DATA = 2 << 20;

const PATHS = [
  SCRATCH.pipeline, SCRATCH.tinyA, SCRATCH.case, SCRATCH.secret, "", ".", "/", "/nonexistent/model", "/etc", "/dev/zero",
  "/proc/self", `${SCRATCH.pipeline}/transformer`, `${SCRATCH.pipeline}/vae`, `${SCRATCH.pipeline}/text_encoder`,
  `${SCRATCH.pipeline}/model_index.json`, `${SCRATCH.pipeline}/transformer/config.json`, `${SCRATCH.tinyA}/../${SCRATCH.pipeline}`,
  `${SCRATCH.pipeline}\0/etc`, "x".repeat(5000), "é/\u202e/💥", `${SCRATCH.pipeline}/`, `./${SCRATCH.tinyA}`,
];

const COMPONENT_NAMES = ["transformer", "vae", "text_encoder", "unet", "", "transformer\0", "../transformer", "x".repeat(300)];

export function float32Data(random: Random, count: number, extreme: boolean): Buffer {
  const data = Buffer.alloc(count * 4);
  for (let i = 0; i < count; i++) {
    const value = extreme && random.chance(0.02) ? random.pick(EXTREME_FLOAT) : random.float() * 4 - 2;
    data.writeFloatLE(value, i * 4);
  }
  return data;
}

/** A tensor message: usually a consistent [rows, cols] float32, else a random dtype, shape or byte count. */
function tensor(random: Random, rows: number, cols: number, opts: { extremeValues?: boolean } = {}): Wire {
  const message = new Wire();
  const roll = random.float();
  if (roll < 0.6) {
    const shape = random.chance(0.2) ? [1, rows, cols] : [rows, cols];
    message.varint(1, 1).packed(2, shape).bytes(3, float32Data(random, rows * cols, opts.extremeValues ?? random.chance(0.3)));
  } else if (roll < 0.75) {
    // A dtype other than float32 with the matching byte count.
    const dtype = random.pick(DTYPES);
    const size = ELEMENT_SIZE[dtype] ?? 4;
    message.varint(1, dtype).packed(2, [rows, cols]).bytes(3, random.bytes(Math.min(MAX_DATA, rows * cols * size)));
  } else if (roll < 0.92) {
    // An extreme shape, with no data or a little.
    const axes = random.int(0, 9);
    const shape = Array.from({ length: axes }, () => (random.chance(0.5) ? random.pick(EXTREME_64) : BigInt(random.int(0, 64))));
    message.varint(1, random.chance(0.8) ? 1 : random.pick(DTYPES));
    if (random.chance(0.5)) message.packed(2, shape);
    else message.unpacked(2, shape);
    if (random.chance(0.5)) message.bytes(3, random.bytes(random.int(0, 64)));
  } else if (roll < 0.97) {
    // The bytes in a shared-memory slice: buffers that may be attached or not, offsets inside, at the end or far
    // beyond the file, sometimes with data as well.
    const offset = random.chance(0.7) ? random.int(0, SHARED_FILE_BYTES) : random.pick(EXTREME_64);
    message.varint(1, random.chance(0.9) ? 1 : random.pick(DTYPES)).packed(2, random.chance(0.2) ? [1, rows, cols] : [rows, cols]);
    if (random.chance(0.1)) message.bytes(3, float32Data(random, rows * cols, false));
    message.bytes(4, sharedSlice(random, offset));
  } else {
    // Consistent shape but the wrong byte count.
    message.varint(1, 1).packed(2, [rows, cols]).bytes(3, random.bytes(Math.max(0, rows * cols * 4 + random.int(-8, 8))));
  }
  return message;
}

function sharedSlice(random: Random, offset: number | bigint): Wire {
  const slice = new Wire();
  if (random.chance(0.95)) slice.varint(1, random.chance(0.8) ? random.int(0, 4) : random.pick(EXTREME_U32));
  if (random.chance(0.9)) slice.varint(2, offset);
  return slice;
}

function quantization(random: Random): Wire {
  const bits = random.pick([0, 4, 8, 2, 3, 16, 32, 2 ** 32 - 1]);
  const group = random.pick([0, 32, 64, 128, 1, 7, 63, 2 ** 31, 2 ** 32 - 1]);
  return new Wire().varint(1, bits).varint(2, group);
}

function loadOptions(random: Random): Wire {
  const options = new Wire();
  if (random.chance(0.3)) options.varint(1, random.pick(DTYPES));
  if (random.chance(0.3)) {
    const count = random.chance(0.9) ? random.int(0, 4) : random.int(15, 40);
    for (let i = 0; i < count; i++) options.bytes(2, random.pick(COMPONENT_NAMES));
  }
  if (random.chance(0.25)) options.bytes(3, quantization(random));
  if (random.chance(0.25)) options.bytes(4, quantization(random));
  if (random.chance(0.25)) options.bytes(5, quantization(random));
  if (random.chance(0.3)) options.varint(6, random.pick(EXTREME_64));
  if (random.chance(0.3)) options.varint(7, random.pick(EXTREME_I32));
  if (random.chance(0.2)) options.varint(8, 1);
  return options;
}

function modelDir(random: Random): string {
  return random.chance(0.7) ? random.pick([SCRATCH.pipeline, SCRATCH.tinyA, SCRATCH.case]) : random.pick(PATHS);
}

function handles(random: Random, known: Knowledge): bigint[] {
  const count = random.chance(0.9) ? random.int(0, 3) : random.pick([16, 17, 100, 3000]);
  return Array.from({ length: count }, () =>
    known.handles.length > 0 && random.chance(0.8) ? random.pick(known.handles) : random.pick(EXTREME_64),
  );
}

function grid(random: Random): [number, number] {
  if (random.chance(0.85)) return [random.int(1, 8), random.int(1, 8)];
  return [random.pick(EXTREME_U32), random.pick(EXTREME_U32)];
}

type Generator = (random: Random, known: Knowledge) => Buffer;

const GENERATORS: Record<Method, Generator> = {
  GetInfo: (random) => {
    const message = new Wire();
    if (random.chance(0.5)) message.varint(1, random.int(0, 1));
    // Sizes 1025-8192 are valid but take seconds to minutes: left to the benchmark tests.
    if (random.chance(0.5)) message.varint(2, random.pick([0, 1, 2, 3, 16, 64, 256, 1024, 8193, 2 ** 31, 2 ** 32 - 1]));
    return message.finish();
  },
  Health: (random) => (random.chance(0.8) ? Buffer.alloc(0) : new Wire().varint(99, random.pick(EXTREME_64)).finish()),
  Shutdown: (random) => new Wire().bytes(1, random.pick(["fuzz", "", "x".repeat(100_000), "\0\u202e"])).finish(),
  LoadModel: (random) => {
    const message = new Wire().bytes(1, modelDir(random));
    if (random.chance(0.6)) message.bytes(2, loadOptions(random));
    return message.finish();
  },
  EncodeText: (random) => {
    const message = new Wire();
    const count = random.chance(0.85) ? random.int(0, 40) : random.pick([2047, 2048, 2049, 16385]);
    const ids = Array.from({ length: count }, () => (random.chance(0.9) ? random.int(0, 151935) : random.pick(EXTREME_U32)));
    if (random.chance(0.5)) message.packed(1, ids);
    else message.unpacked(1, ids);
    if (random.chance(0.4)) message.varint(2, random.pick(EXTREME_I32));
    if (random.chance(0.3)) message.varint(3, 1);
    if (random.chance(0.3)) {
      const maskCount = random.chance(0.7) ? count : random.int(0, count + 3);
      message.packed(4, Array.from({ length: maskCount }, () => (random.chance(0.9) ? random.int(0, 1) : random.pick(EXTREME_U32))));
    }
    return message.finish();
  },
  ImportEmbedding: (random, known) => {
    const { joint } = modelSizes(known.state);
    const length = random.chance(0.9) ? random.int(1, 40) : random.pick([0, 1000, 20_000]);
    const width = random.chance(0.8) ? joint : random.pick([1, 7, 8, 24, 3584]);
    const rows = Math.min(length, Math.floor(MAX_DATA / 4 / width));
    const message = new Wire();
    if (random.chance(0.95)) message.bytes(1, tensor(random, rows, width));
    if (random.chance(0.3)) {
      if (random.chance(0.6)) {
        const flags = Buffer.from(Array.from({ length: rows * random.pick([1, 4]) }, () => random.int(0, 1)));
        message.bytes(2, new Wire().varint(1, random.pick([1, 4, 6, 7])).packed(2, [rows]).bytes(3, flags));
      } else {
        message.bytes(2, tensor(random, 1, rows));
      }
    }
    return message.finish();
  },
  Denoise: (random, known) => {
    const { inChannels } = modelSizes(known.state);
    const [h, w] = grid(random);
    const tokens = h * w <= 4096 ? h * w : random.int(1, 64);
    const message = new Wire();
    if (random.chance(0.95)) message.bytes(1, tensor(random, Math.min(tokens, Math.floor(MAX_DATA / 4 / inChannels)), random.chance(0.85) ? inChannels : random.pick([1, 4, 16, 64])));
    message.varint(2, h).varint(3, w);
    message.float(4, random.chance(0.8) ? random.float() : random.pick(EXTREME_FLOAT));
    message.packed(5, handles(random, known));
    if (random.chance(0.15)) message.bytes(6, sharedSlice(random, random.chance(0.7) ? random.int(0, SHARED_FILE_BYTES) : random.pick(EXTREME_64)));
    return message.finish();
  },
  Decode: (random, known) => {
    const { vaeChannels } = modelSizes(known.state);
    const [h, w] = grid(random);
    const tokens = h * w <= 4096 ? h * w : random.int(1, 64);
    const message = new Wire();
    if (random.chance(0.95)) message.bytes(1, tensor(random, tokens, random.chance(0.85) ? vaeChannels : random.pick([4, 16, 64])));
    message.varint(2, h).varint(3, w);
    if (random.chance(0.5)) message.varint(4, 1);
    return message.finish();
  },
  Release: (random, known) => new Wire().packed(1, random.chance(0.1) ? Array.from({ length: 5000 }, (_, i) => BigInt(i)) : handles(random, known)).finish(),
  Unload: (random) => {
    const message = new Wire();
    const count = random.chance(0.9) ? random.int(0, 3) : 20;
    for (let i = 0; i < count; i++) message.bytes(1, random.chance(0.8) ? random.pick(["transformer", "vae", "text_encoder"]) : random.pick(COMPONENT_NAMES));
    return message.finish();
  },
  InspectModel: (random) => {
    const message = new Wire().bytes(1, modelDir(random));
    if (random.chance(0.5)) message.bytes(2, loadOptions(random));
    if (random.chance(0.5)) message.varint(3, random.chance(0.5) ? random.pick([16, 64, 256, 1024]) : random.pick(EXTREME_U32));
    if (random.chance(0.5)) message.varint(4, random.chance(0.5) ? random.pick([16, 64, 256, 1024]) : random.pick(EXTREME_U32));
    return message.finish();
  },
  ConvertModel: (random, known) => {
    const message = new Wire().bytes(1, random.chance(0.8) ? random.pick([SCRATCH.pipeline, SCRATCH.tinyA, SCRATCH.case]) : random.pick(PATHS));
    // Targets stay inside out/ (a real folder of the scratch area): ConvertModel writes and may replace them.
    message.bytes(2, random.chance(0.7) ? `${SCRATCH.out}/copy-${known.serial++}` : random.pick([`${SCRATCH.out}/existing`, `${SCRATCH.out}`, `${SCRATCH.out}/`, `${SCRATCH.out}/no/such/parent`, `${SCRATCH.out}/existing/inner`]));
    if (random.chance(0.7)) message.bytes(3, quantization(random));
    if (random.chance(0.5)) message.bytes(4, quantization(random));
    if (random.chance(0.3)) message.bytes(5, quantization(random));
    if (random.chance(0.3)) message.varint(6, 1);
    return message.finish();
  },
  AttachSharedMemory: (random) => new Wire().bytes(1, random.chance(0.8) ? random.pick(SHARED_PATHS) : random.pick(PATHS)).finish(),
  DetachSharedMemory: (random) => new Wire().varint(1, random.chance(0.8) ? random.int(0, 4) : random.pick(EXTREME_U32)).finish(),
};

/** Weights of each RPC in structured fuzzing (Shutdown rare: every one costs an engine start). */
const WEIGHTS: [Method, number][] = [
  ["GetInfo", 4], ["Health", 2], ["Shutdown", 0.3], ["LoadModel", 8], ["EncodeText", 10], ["ImportEmbedding", 14],
  ["Denoise", 18], ["Decode", 10], ["Release", 5], ["Unload", 4], ["InspectModel", 6], ["ConvertModel", 3],
  ["AttachSharedMemory", 3], ["DetachSharedMemory", 1.5],
];

export function pickMethod(random: Random): Method {
  const total = WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = random.float() * total;
  for (const [method, weight] of WEIGHTS) {
    roll -= weight;
    if (roll < 0) return method;
  }
  return "Health";
}

export function structuredCall(random: Random, known: Knowledge, method = pickMethod(random)): Call {
  return { method, payload: GENERATORS[method](random, known) };
}
