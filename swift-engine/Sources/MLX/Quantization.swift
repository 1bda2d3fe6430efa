import CMLXBridge

/// An affine-quantized matrix: packed uint32 weights with a scale and a bias per group of the last axis.
public struct QuantizedWeight: @unchecked Sendable {
  public var weight: MLXArray
  public var scales: MLXArray
  public var biases: MLXArray
  public var groupSize: Int
  public var bits: Int

  public init(weight: MLXArray, scales: MLXArray, biases: MLXArray, groupSize: Int, bits: Int) {
    self.weight = weight
    self.scales = scales
    self.biases = biases
    self.groupSize = groupSize
    self.bits = bits
  }
}

/// Quantizes `w` along its last axis in groups of `groupSize` with `bits` bits per value (affine).
public func quantized(_ w: MLXArray, groupSize: Int = 64, bits: Int = 4) throws -> QuantizedWeight {
  let parts = try withExtendedLifetime(w) {
    try produceList { mlxb_quantize(w.handle, Int32(groupSize), Int32(bits), $0) }
  }
  guard parts.count == 3 else { throw MLXError("quantize returned \(parts.count) arrays, expected 3") }
  return QuantizedWeight(weight: parts[0], scales: parts[1], biases: parts[2], groupSize: groupSize, bits: bits)
}

public func dequantized(_ q: QuantizedWeight) throws -> MLXArray {
  try withExtendedLifetime(q) {
    try produce {
      mlxb_dequantize(q.weight.handle, q.scales.handle, q.biases.handle, Int32(q.groupSize), Int32(q.bits), $0)
    }
  }
}

/// x @ wᵀ (transpose, the Linear layout [out, in]) or x @ w with a quantized w.
public func quantizedMatmul(_ x: MLXArray, _ q: QuantizedWeight, transpose: Bool = true) throws -> MLXArray {
  try withExtendedLifetime((x, q)) {
    try produce {
      mlxb_quantized_matmul(
        x.handle, q.weight.handle, q.scales.handle, q.biases.handle, transpose ? 1 : 0, Int32(q.groupSize),
        Int32(q.bits), $0)
    }
  }
}

/// Batched matmul choosing the matrices of `a` and `b` per output with index arrays (nil = in order).
public func gatherMM(
  _ a: MLXArray, _ b: MLXArray, lhsIndices: MLXArray? = nil, rhsIndices: MLXArray? = nil, sortedIndices: Bool = false
) throws -> MLXArray {
  try withExtendedLifetime((a, b, lhsIndices, rhsIndices)) {
    try produce {
      mlxb_gather_mm(a.handle, b.handle, lhsIndices?.handle, rhsIndices?.handle, sortedIndices ? 1 : 0, $0)
    }
  }
}

/// gatherMM with a quantized, stacked `q` ([E, out, in] with transpose, [E, in, out] without).
public func gatherQuantizedMM(
  _ x: MLXArray, _ q: QuantizedWeight, lhsIndices: MLXArray? = nil, rhsIndices: MLXArray? = nil,
  transpose: Bool = true, sortedIndices: Bool = false
) throws -> MLXArray {
  try withExtendedLifetime((x, q, lhsIndices, rhsIndices)) {
    try produce {
      mlxb_gather_qmm(
        x.handle, q.weight.handle, q.scales.handle, q.biases.handle, lhsIndices?.handle, rhsIndices?.handle,
        transpose ? 1 : 0, Int32(q.groupSize), Int32(q.bits), sortedIndices ? 1 : 0, $0)
    }
  }
}
