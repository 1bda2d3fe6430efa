import MLX
import MLXNN

/// diffusers' FeedForward with SwiGLU (dense blocks and the MoE shared expert): proj -> [value | gate],
/// value · silu(gate), then the down projection. Note the order: value first, gate second.
final class SwiGLUFeedForward {
  let proj: any LinearLayer
  let down: any LinearLayer
  let inner: Int

  init(_ scope: WeightScope, dimension: Int, inner: Int, quantization: QuantizationSpec?) throws {
    self.inner = inner
    proj = try loadLinear(
      scope.scope("net.0.proj"), inputDimensions: dimension, outputDimensions: 2 * inner, bias: false,
      quantization: quantization)
    down = try loadLinear(
      scope.scope("net.2"), inputDimensions: inner, outputDimensions: dimension, bias: false, quantization: quantization)
  }

  func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let halves = try proj(x).split(parts: 2, axis: -1)
    return try down(halves[0] * silu(halves[1]))
  }
}
