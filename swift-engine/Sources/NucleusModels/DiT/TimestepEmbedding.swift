import MLX
import MLXNN

/// σ -> temb [B, D]: the sinusoid [cos, sin] of 1000·σ·fᵢ (fᵢ = 10000^(−i/half)), a SiLU MLP, then RMSNorm.
final class TimestepEmbedding {
  let linear1: any LinearLayer
  let linear2: any LinearLayer
  let norm: RMSNorm
  let dimension: Int
  /// fᵢ in float32 as diffusers forms them: exp(−ln(10000) · i / half).
  let frequencies: MLXArray

  init(_ scope: WeightScope, dimension: Int, quantization: QuantizationSpec?) throws {
    self.dimension = dimension
    linear1 = try loadLinear(
      scope.scope("timestep_embedder.linear_1"), inputDimensions: dimension, outputDimensions: 4 * dimension,
      bias: true, quantization: quantization)
    linear2 = try loadLinear(
      scope.scope("timestep_embedder.linear_2"), inputDimensions: 4 * dimension, outputDimensions: dimension,
      bias: true, quantization: quantization)
    norm = try RMSNorm(scope.scope("norm"), dimensions: dimension, eps: 1e-6)
    let half = dimension / 2
    let logPeriod = -Float(9.210340371976184)  // −ln(10000), rounded to float32 like torch's math.log in a float32 multiply
    frequencies = try MLXArray((0..<half).map { expf(logPeriod * Float($0) / Float(half)) }, [1, half])
  }

  /// `timesteps` [B] in the model dtype (diffusers casts σ to the model dtype first).
  func callAsFunction(_ timesteps: MLXArray, dtype: DType) throws -> MLXArray {
    let t = try timesteps.asType(dtype).asType(.float32).reshaped(-1, 1)
    let arguments = try (t * frequencies) * 1000
    let sinusoid = try concatenated([cos(arguments), sin(arguments)], axis: -1).asType(dtype)
    return try norm(linear2(silu(linear1(sinusoid))))
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
