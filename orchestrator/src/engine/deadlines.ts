// A deadline for every engine call, proportional to its work, so that a stuck engine turns into an error instead
// of a wait without end. Control calls get a fixed short deadline; data transfers one that grows with their bytes;
// computations one that grows with their FLOPs at a pessimistic rate, and once a computation of the same kind has
// been timed, a multiple of the slowest one seen. LoadModel is a stream: it fails when progress stops.
import type { ModelSummary } from "../generated/nucleus/engine/v1/engine.js";

export interface DeadlinePolicy {
  /** Health, Shutdown, Release, GetInfo without a benchmark. */
  controlMs: number;
  /** The least any call that moves or computes data gets. */
  minimumMs: number;
  /** A transfer rate every machine beats. */
  worstBytesPerSecond: number;
  /** A compute rate every backend beats (the CPU backend of a slow laptop does ~10 GFLOP/s). */
  worstFlopsPerSecond: number;
  /** Once a call of a kind has been timed, later ones get this multiple of the slowest (plus minimumMs). */
  observedFactor: number;
  /** LoadModel fails when no progress event arrives for this long. */
  loadIdleMs: number;
}

export const DEFAULT_DEADLINES: DeadlinePolicy = {
  controlMs: 30_000,
  minimumMs: 120_000,
  worstBytesPerSecond: 20e6,
  worstFlopsPerSecond: 1e9,
  observedFactor: 10,
  loadIdleMs: 15 * 60_000,
};

interface TensorLike {
  shape?: number[];
  data?: Uint8Array;
}

const bytesOf = (tensor: TensorLike | undefined) => tensor?.data?.byteLength ?? 0;
const tokensOf = (tensor: TensorLike | undefined) => tensor?.shape?.[0] ?? 0;

/** Computes per-call deadlines; learns the model's size from LoadModel and the speed of calls it has timed. */
export class DeadlineKeeper {
  private readonly parameters = new Map<string, number>();
  private readonly slowest = new Map<string, number>();

  constructor(readonly policy: DeadlinePolicy = DEFAULT_DEADLINES) {}

  /** Remembers the parameter counts of the loaded components. */
  noteModel(summary: ModelSummary): void {
    for (const component of summary.components) this.parameters.set(component.name, component.parameterCount);
  }

  /** Records how long a call took, so later calls of the same kind get a deadline scaled from it. */
  observe(method: string, request: unknown, elapsedMs: number): void {
    const key = this.kind(method, request);
    if (key) this.slowest.set(key, Math.max(this.slowest.get(key) ?? 0, elapsedMs));
  }

  /** The deadline for a unary call, in milliseconds from now. */
  deadlineMs(method: string, request: unknown): number {
    const { controlMs, minimumMs } = this.policy;
    const body = (request ?? {}) as Record<string, unknown>;
    const key = this.kind(method, request);
    const seen = key ? this.slowest.get(key) : undefined;
    if (seen !== undefined) return minimumMs + this.policy.observedFactor * seen;
    const transfer = (bytes: number) => minimumMs + (1000 * bytes) / this.policy.worstBytesPerSecond;
    const compute = (flops: number, bytes = 0) => transfer(bytes) + (1000 * flops) / this.policy.worstFlopsPerSecond;
    const parameters = (name: string) => this.parameters.get(name) ?? 20e9;
    switch (method) {
      case "denoise": {
        const latents = body.latents as TensorLike | undefined;
        const batch = Math.max(1, (body.conditioning as unknown[] | undefined)?.length ?? 1);
        return compute(2 * parameters("transformer") * tokensOf(latents) * batch, bytesOf(latents) * (batch + 1));
      }
      case "decode": {
        const latents = body.latents as TensorLike | undefined;
        // Each latent token becomes 16×16 pixels; the decoder runs its weights over every pixel at worst.
        return compute(2 * parameters("vae") * tokensOf(latents) * 256, bytesOf(latents) * 64);
      }
      case "encodeText":
        return compute(2 * parameters("text_encoder") * ((body.tokenIds as unknown[] | undefined)?.length ?? 1024));
      case "importEmbedding":
        return transfer(bytesOf(body.embedding as TensorLike) + bytesOf(body.mask as TensorLike));
      case "getInfo": {
        const size = Number(body.benchmarkMatmulSize ?? 0);
        return size > 0 ? compute(2 * size ** 3 * 5) : controlMs;
      }
      default:
        return controlMs;
    }
  }

  /** Calls of one kind and size share their timings: a Denoise at one grid and batch, a Decode at one grid. */
  private kind(method: string, request: unknown): string | undefined {
    const body = (request ?? {}) as Record<string, unknown>;
    if (method === "denoise") {
      return `denoise:${body.gridHeight}x${body.gridWidth}:${(body.conditioning as unknown[] | undefined)?.length ?? 0}`;
    }
    return undefined;
  }
}
