import MLX

/// LayerNorm over the last axis, with or without learned weight and bias.
public final class LayerNorm: UnaryLayer {
  public let weight: MLXArray?
  public let bias: MLXArray?
  public let eps: Float

  public init(weight: MLXArray? = nil, bias: MLXArray? = nil, eps: Float = 1e-5) {
    self.weight = weight
    self.bias = bias
    self.eps = eps
  }

  /// Reads `<name>.weight` and `<name>.bias` [dimensions] when `affine`.
  public convenience init(_ scope: WeightScope, dimensions: Int, eps: Float, affine: Bool = true) throws {
    if affine {
      self.init(
        weight: try scope.take("weight", shape: [dimensions]), bias: try scope.take("bias", shape: [dimensions]), eps: eps)
    } else {
      self.init(eps: eps)
    }
  }

  public func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    try MLXFast.layerNorm(x, weight: weight, bias: bias, eps: eps)
  }
}

/// RMSNorm over the last axis: x · rsqrt(mean(x²) + eps) · weight.
public final class RMSNorm: UnaryLayer {
  public let weight: MLXArray
  public let eps: Float

  public init(weight: MLXArray, eps: Float = 1e-6) {
    self.weight = weight
    self.eps = eps
  }

  public convenience init(_ scope: WeightScope, dimensions: Int, eps: Float) throws {
    self.init(weight: try scope.take("weight", shape: [dimensions]), eps: eps)
  }

  public func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    try MLXFast.rmsNorm(x, weight: weight, eps: eps)
  }
}
