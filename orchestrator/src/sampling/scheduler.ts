// The flow-matching sigma schedule of diffusers' FlowMatchEulerDiscreteScheduler, as NucleusMoEImagePipeline
// drives it: sigmas = linspace(1, 1/N, N), mu from the image sequence length, then the scheduler's shifting,
// optional terminal stretch and karras / exponential / beta spacing, timesteps = 1000 · sigma, terminal 0
// appended. Arithmetic follows the reference's float32 / float64 split so the values match it.
import { betaPpf } from "./beta-ppf.js";

/** `scheduler/scheduler_config.json` (missing keys take the scheduler's defaults). */
export interface SchedulerConfig {
  num_train_timesteps?: number;
  shift?: number;
  use_dynamic_shifting?: boolean;
  base_shift?: number | null;
  max_shift?: number | null;
  base_image_seq_len?: number;
  max_image_seq_len?: number;
  invert_sigmas?: boolean;
  shift_terminal?: number | null;
  use_karras_sigmas?: boolean;
  use_exponential_sigmas?: boolean;
  use_beta_sigmas?: boolean;
  time_shift_type?: "exponential" | "linear";
  stochastic_sampling?: boolean;
}

export interface Schedule {
  /** N + 1 sigmas (float32), the last being the terminal value. */
  sigmas: Float32Array;
  /** N timesteps (float32), 1000 · sigma. */
  timesteps: Float32Array;
}

/** The pipeline's mu for dynamic shifting: linear in the image sequence length (calculate_shift). */
export function calculateShift(config: SchedulerConfig, imageSeqLen: number): number {
  const baseLen = config.base_image_seq_len ?? 256;
  const maxLen = config.max_image_seq_len ?? 4096;
  const baseShift = config.base_shift ?? 0.5;
  const maxShift = config.max_shift ?? 1.15;
  const m = (maxShift - baseShift) / (maxLen - baseLen);
  const b = baseShift - m * baseLen;
  return imageSeqLen * m + b;
}

export function flowMatchSchedule(config: SchedulerConfig, steps: number, imageSeqLen: number): Schedule {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive whole number, not ${steps}`);
  if (config.stochastic_sampling) {
    throw new Error("scheduler_config.json sets stochastic_sampling, which needs scheduler noise; it is not supported");
  }
  const spacings = [config.use_karras_sigmas, config.use_exponential_sigmas, config.use_beta_sigmas].filter(Boolean);
  if (spacings.length > 1) throw new Error("scheduler_config.json enables more than one of karras / exponential / beta sigmas");
  const trainSteps = config.num_train_timesteps ?? 1000;
  const shift = config.shift ?? 1.0;

  // np.linspace(1.0, 1/N, N) in float64, then .astype(np.float32)
  let sigmas: number[] = linspace(1.0, 1 / steps, steps).map(Math.fround);

  if (config.use_dynamic_shifting) {
    const mu = calculateShift(config, imageSeqLen);
    const linear = config.time_shift_type === "linear";
    // math.exp(mu) / (math.exp(mu) + (1 / t - 1) ** 1.0) with t float32, result float32 (numpy)
    // NumPy 2 casts the Python float to float32 before each float32 array operation.
    const weight = Math.fround(linear ? mu : Math.exp(mu));
    sigmas = sigmas.map((t) => Math.fround(weight / Math.fround(weight + Math.fround(Math.fround(1 / t) - 1))));
  } else {
    const scale = Math.fround(shift);
    const slope = Math.fround(shift - 1);
    sigmas = sigmas.map((s) => Math.fround(Math.fround(scale * s) / Math.fround(1 + Math.fround(slope * s))));
  }

  if (config.shift_terminal) {
    const terminal = config.shift_terminal;
    const oneMinus = sigmas.map((s) => Math.fround(1 - s));
    const scale = Math.fround(oneMinus[oneMinus.length - 1]! / Math.fround(1 - terminal));
    sigmas = oneMinus.map((z) => Math.fround(1 - Math.fround(z / scale)));
  }

  if (config.use_karras_sigmas || config.use_exponential_sigmas || config.use_beta_sigmas) {
    const sigmaMin = sigmas[sigmas.length - 1]!;
    const sigmaMax = sigmas[0]!;
    if (config.use_karras_sigmas) {
      const rho = 7.0;
      const minInv = sigmaMin ** (1 / rho);
      const maxInv = sigmaMax ** (1 / rho);
      sigmas = linspace(0, 1, steps).map((ramp) => (maxInv + ramp * (minInv - maxInv)) ** rho);
    } else if (config.use_exponential_sigmas) {
      sigmas = linspace(Math.log(sigmaMax), Math.log(sigmaMin), steps).map(Math.exp);
    } else {
      sigmas = linspace(0, 1, steps).map((r) => sigmaMin + betaPpf(1 - r, 0.6, 0.6) * (sigmaMax - sigmaMin));
    }
    sigmas = sigmas.map(Math.fround);
  }

  let timesteps = sigmas.map((s) => Math.fround(s * trainSteps));
  let terminal = 0;
  if (config.invert_sigmas) {
    sigmas = sigmas.map((s) => Math.fround(1 - s));
    timesteps = sigmas.map((s) => Math.fround(s * trainSteps));
    terminal = 1;
  }
  return { sigmas: Float32Array.from([...sigmas, terminal]), timesteps: Float32Array.from(timesteps) };
}

/** numpy.linspace(start, stop, count) in float64, endpoint included. */
function linspace(start: number, stop: number, count: number): number[] {
  if (count === 1) return [start];
  const step = (stop - start) / (count - 1);
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? stop : start + i * step));
}
