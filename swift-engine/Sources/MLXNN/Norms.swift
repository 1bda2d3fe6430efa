import MLX

/// LayerNorm over the last axis, with learned weight and bias when `affine`.
public final class LayerNorm: Module {
  public let weight: Parameter?
  public let bias: Parameter?
  public let eps: Float

  public init(dimensions: Int, eps: Float = 1e-5, affine: Bool = true) {
    weight = affine ? Parameter([dimensions]) : nil
    bias = affine ? Parameter([dimensions]) : nil
    self.eps = eps
  }

  public var items: [(String, ModuleItem)] {
    guard let weight, let bias else { return [] }
    return [("weight", .parameter(weight)), ("bias", .parameter(bias))]
  }

  public func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    try MLXFast.layerNorm(x, weight: weight?.dense(as: x.dtype), bias: bias?.dense(as: x.dtype), eps: eps)
  }
}

/// RMSNorm over the last axis: x · rsqrt(mean(x²) + eps) · weight.
public final class RMSNorm: Module {
  public let weight: Parameter
  public let eps: Float

  public init(dimensions: Int, eps: Float = 1e-6) {
    weight = Parameter([dimensions])
    self.eps = eps
  }

  public var items: [(String, ModuleItem)] { [("weight", .parameter(weight))] }

  public func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    try MLXFast.rmsNorm(x, weight: weight.dense(as: x.dtype), eps: eps)
  }
}
