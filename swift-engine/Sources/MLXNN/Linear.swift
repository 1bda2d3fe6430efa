import MLX

/// y = x @ Wᵀ (+ b) with W stored [out, in] as in PyTorch checkpoints; the weight may be dense or affine-quantized
/// (packed uint32 [out, in·bits/32] with `.scales`/`.biases` [out, in/group], MLX's layout).
public final class Linear: Module {
  public let weight: Parameter
  public let bias: Parameter?
  public let inputDimensions: Int
  public let outputDimensions: Int

  /// `quantizable: false` keeps the weight dense whatever the load asks for (e.g. an MoE router).
  public init(_ inputDimensions: Int, _ outputDimensions: Int, bias: Bool = true, quantizable: Bool = true) {
    self.inputDimensions = inputDimensions
    self.outputDimensions = outputDimensions
    weight = Parameter([outputDimensions, inputDimensions], quantization: quantizable ? .linear : nil)
    self.bias = bias ? Parameter([outputDimensions]) : nil
  }

  public var items: [(String, ModuleItem)] {
    [("weight", .parameter(weight))] + (bias.map { [("bias", .parameter($0))] } ?? [])
  }

  public func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let bias = try self.bias?.dense(as: x.dtype)
    switch weight.value {
    case .quantized(let q) where !QuantizedKernels.dequantizeFirst:
      let y = try quantizedMatmul(x, q, transpose: true)
      if let bias { return try y + bias }
      return y
    case .quantized(let q):
      return try product(x, dequantized(q, dtype: x.dtype).transposed(), bias: bias)
    default:
      return try product(x, weight.dense(as: x.dtype).transposed(), bias: bias)
    }
  }

  private func product(_ x: MLXArray, _ transposedWeight: MLXArray, bias: MLXArray?) throws -> MLXArray {
    if let bias { return try addMM(bias, x, transposedWeight) }
    return try matmul(x, transposedWeight)
  }
}

/// The dequantized weight in `dtype`: the scales and biases are cast first, so the dense copy is made once, in
/// the dtype the matmul needs.
func dequantized(_ q: QuantizedWeight, dtype: DType) throws -> MLXArray {
  guard q.scales.dtype != dtype else { return try MLX.dequantized(q) }
  var cast = q
  cast.scales = try q.scales.asType(dtype)
  cast.biases = try q.biases.asType(dtype)
  return try MLX.dequantized(cast)
}
