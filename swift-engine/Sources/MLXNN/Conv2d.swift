import MLX

/// 2-D convolution on NHWC input with an OHWI weight (MLX's layout). PyTorch checkpoints store OIHW: convert
/// with `Conv2d.fromPyTorch(weight:)` (or at load, as the VAE's sanitizer does).
public final class Conv2d: UnaryLayer {
  public let weight: MLXArray
  public let bias: MLXArray?
  public let stride: (Int, Int)
  public let padding: (Int, Int)

  public init(weight: MLXArray, bias: MLXArray?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0)) {
    self.weight = weight
    self.bias = bias
    self.stride = stride
    self.padding = padding
  }

  /// Reads `<name>.weight` [out, kh, kw, in] and optionally `<name>.bias` [out].
  public convenience init(
    _ scope: WeightScope, inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
    bias: Bool = true
  ) throws {
    let weight = try scope.take("weight", shape: [outputChannels, kernelSize, kernelSize, inputChannels])
    let bias = bias ? try scope.take("bias", shape: [outputChannels]) : nil
    self.init(weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding))
  }

  /// OIHW (PyTorch) to OHWI (MLX).
  public static func fromPyTorch(weight: MLXArray) throws -> MLXArray { try weight.transposed(0, 2, 3, 1) }

  public func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let y = try conv2d(x, weight, stride: stride, padding: padding)
    if let bias { return try y + bias }
    return y
  }
}
