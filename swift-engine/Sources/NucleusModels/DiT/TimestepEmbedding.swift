import MLX
import MLXNN

/// σ -> temb [B, D]: the sinusoid [cos, sin] of 1000·σ·fᵢ (fᵢ = 10000^(−i/half)), a SiLU MLP, then RMSNorm.
final class TimestepEmbedding: Module {
  let linear1: Linear
  let linear2: Linear
  let norm: RMSNorm
  let dimension: Int
  /// fᵢ in float32 as diffusers forms them: exp(−ln(10000) · i / half).
  let frequencies: [Float]

  /// The timestep MLP stays dense (it runs once per step on one vector: quantizing it saves little and costs accuracy).
  init(dimension: Int) {
    self.dimension = dimension
    linear1 = Linear(dimension, 4 * dimension, quantizable: false)
    linear2 = Linear(4 * dimension, dimension, quantizable: false)
    norm = RMSNorm(dimensions: dimension, eps: 1e-6)
    let half = dimension / 2
    let logPeriod = -Float(9.210340371976184)  // −ln(10000), rounded to float32 like torch's math.log in a float32 multiply
    frequencies = (0..<half).map { expf(logPeriod * Float($0) / Float(half)) }
  }

  var items: [(String, ModuleItem)] {
    [("timestep_embedder.linear_1", .module(linear1)), ("timestep_embedder.linear_2", .module(linear2)), ("norm", .module(norm))]
  }

  /// `timesteps` [B] in the model dtype (diffusers casts σ to the model dtype first).
  func callAsFunction(_ timesteps: MLXArray, dtype: DType) throws -> MLXArray {
    let t = try timesteps.asType(dtype).asType(.float32).reshaped(-1, 1)
    let arguments = try (t * MLXArray(frequencies, [1, frequencies.count])) * 1000
    let sinusoid = try concatenated([cos(arguments), sin(arguments)], axis: -1).asType(dtype)
    return try norm(linear2(silu(linear1(sinusoid))))
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
