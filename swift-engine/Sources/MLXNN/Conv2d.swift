import MLX

/// 2-D convolution on NHWC input with an OHWI weight (MLX's layout); `layout` says how checkpoints store it.
public final class Conv2d: Module {
  public let weight: Parameter
  public let bias: Parameter?
  public let stride: (Int, Int)
  public let padding: (Int, Int)

  public init(
    inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true,
    layout: CheckpointLayout = .convolutionOIHW
  ) {
    weight = Parameter([outputChannels, kernelSize, kernelSize, inputChannels], layout: layout)
    self.bias = bias ? Parameter([outputChannels]) : nil
    self.stride = (stride, stride)
    self.padding = (padding, padding)
  }

  public var items: [(String, ModuleItem)] {
    [("weight", .parameter(weight))] + (bias.map { [("bias", .parameter($0))] } ?? [])
  }

  public func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let y = try conv2d(x, weight.dense(as: x.dtype), stride: stride, padding: padding)
    if let bias { return try y + bias.dense(as: x.dtype) }
    return y
  }
}
