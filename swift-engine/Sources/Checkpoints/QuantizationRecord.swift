import MLXNN

/// What a quantized component folder records in its config.json under "quantization".
public struct QuantizationRecord: Codable, Sendable, Equatable {
  public var linear: QuantizationSpec?
  public var experts: QuantizationSpec?
  /// "mlx-affine": packed uint32 weights with .scales and .biases; experts stored [E, out, in].
  public var format: String

  public init(linear: QuantizationSpec?, experts: QuantizationSpec?) {
    self.linear = linear
    self.experts = experts
    self.format = "mlx-affine"
  }
}
