import MLX

/// A layer y = f(x) on the last axis.
public protocol UnaryLayer: AnyObject {
  func callAsFunction(_ x: MLXArray) throws -> MLXArray
}

/// Linear layers, dense or quantized: x @ Wᵀ (+ b) with W stored [out, in] as in PyTorch checkpoints.
public protocol LinearLayer: UnaryLayer {
  var inputDimensions: Int { get }
  var outputDimensions: Int { get }
}

public final class Linear: LinearLayer {
  public let weight: MLXArray
  public let bias: MLXArray?
  public var inputDimensions: Int { weight.shape[1] }
  public var outputDimensions: Int { weight.shape[0] }

  public init(weight: MLXArray, bias: MLXArray? = nil) {
    self.weight = weight
    self.bias = bias
  }

  /// Reads `<name>.weight` [out, in] and, when `bias`, `<name>.bias` [out].
  public convenience init(_ scope: WeightScope, inputDimensions: Int, outputDimensions: Int, bias: Bool = true) throws {
    let weight = try scope.take("weight", shape: [outputDimensions, inputDimensions])
    let bias = bias ? try scope.take("bias", shape: [outputDimensions]) : nil
    self.init(weight: weight, bias: bias)
  }

  public func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let transposed = try weight.transposed()
    if let bias { return try addMM(bias, x, transposed) }
    return try matmul(x, transposed)
  }

  /// This layer with its weight quantized (affine, groups along the input axis).
  public func quantized(groupSize: Int = 64, bits: Int = 4) throws -> QuantizedLinear {
    try QuantizedLinear(weight: MLX.quantized(weight, groupSize: groupSize, bits: bits), bias: bias, inputDimensions: inputDimensions)
  }
}

/// A linear layer with an affine 4- or 8-bit weight (group size 64 by default), as MLX's quantized_matmul expects:
/// `<name>.weight` packed uint32 [out, in·bits/32], `<name>.scales` and `<name>.biases` [out, in/group].
public final class QuantizedLinear: LinearLayer {
  public let weight: QuantizedWeight
  public let bias: MLXArray?
  public let inputDimensions: Int
  public var outputDimensions: Int { weight.weight.shape[0] }

  public init(weight: QuantizedWeight, bias: MLXArray?, inputDimensions: Int) {
    self.weight = weight
    self.bias = bias
    self.inputDimensions = inputDimensions
  }

  public convenience init(
    _ scope: WeightScope, inputDimensions: Int, outputDimensions: Int, bias: Bool = true, groupSize: Int, bits: Int
  ) throws {
    guard inputDimensions % groupSize == 0, (inputDimensions * bits) % 32 == 0 else {
      throw MLXError("\(scope.prefix): \(inputDimensions) inputs cannot be quantized in groups of \(groupSize)")
    }
    let packed = try scope.take("weight", shape: [outputDimensions, inputDimensions * bits / 32], dtype: .uint32)
    let scales = try scope.take("scales", shape: [outputDimensions, inputDimensions / groupSize])
    let biases = try scope.take("biases", shape: [outputDimensions, inputDimensions / groupSize])
    let bias = bias ? try scope.take("bias", shape: [outputDimensions]) : nil
    self.init(
      weight: QuantizedWeight(weight: packed, scales: scales, biases: biases, groupSize: groupSize, bits: bits),
      bias: bias, inputDimensions: inputDimensions)
  }

  public func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    if QuantizedKernels.dequantizeFirst {
      let dense = try dequantized(weight).asType(x.dtype).transposed()
      if let bias { return try addMM(bias, x, dense) }
      return try matmul(x, dense)
    }
    let y = try quantizedMatmul(x, weight, transpose: true)
    if let bias { return try y + bias }
    return y
  }
}

/// How a component's checkpoint stores its linear weights.
public struct QuantizationSpec: Codable, Sendable, Equatable {
  public var bits: Int
  public var groupSize: Int

  public init(bits: Int, groupSize: Int = 64) {
    self.bits = bits
    self.groupSize = groupSize
  }

  enum CodingKeys: String, CodingKey {
    case bits
    case groupSize = "group_size"
  }
}

/// Reads a linear layer at `scope`: quantized when the checkpoint holds `<name>.scales` (pre-quantized, with the
/// component's recorded `spec`), dense otherwise.
public func loadLinear(
  _ scope: WeightScope, inputDimensions: Int, outputDimensions: Int, bias: Bool, quantization spec: QuantizationSpec?
) throws -> any LinearLayer {
  if scope.contains("scales") {
    guard let spec else {
      throw MLXError("\(scope.prefix) is quantized but the component's config.json records no quantization")
    }
    return try QuantizedLinear(
      scope, inputDimensions: inputDimensions, outputDimensions: outputDimensions, bias: bias,
      groupSize: spec.groupSize, bits: spec.bits)
  }
  return try Linear(scope, inputDimensions: inputDimensions, outputDimensions: outputDimensions, bias: bias)
}
