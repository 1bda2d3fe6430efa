import MLX
import MLXNN

/// Which tensors of a component to quantize at load, and how. Each model states its own rules (what to skip).
public struct QuantizationPlan: Sendable {
  public enum Kind: Sendable { case linear, experts }

  /// For 2-D linear weights [out, in] (quantized along `in`).
  public var linear: QuantizationSpec?
  /// For stacked expert weights [E, in, out] (stored quantized as [E, out, in]).
  public var experts: QuantizationSpec?
  /// Classifies a tensor by name and shape: a linear weight, an expert stack, or nil to keep it as it is.
  public var classify: @Sendable (_ key: String, _ shape: [Int]) -> Kind?

  public init(
    linear: QuantizationSpec?, experts: QuantizationSpec?,
    classify: @escaping @Sendable (_ key: String, _ shape: [Int]) -> Kind?
  ) {
    self.linear = linear
    self.experts = experts
    self.classify = classify
  }

  /// A default classifier: `*.weight` of rank 2 is linear, rank 3 is an expert stack; keys containing any of
  /// `skipping` are kept as they are.
  public static func byShape(linear: QuantizationSpec?, experts: QuantizationSpec?, skipping: [String] = [])
    -> QuantizationPlan
  {
    QuantizationPlan(linear: linear, experts: experts) { key, shape in
      if skipping.contains(where: { key.contains($0) }) { return nil }
      if shape.count == 2 && key.hasSuffix(".weight") { return .linear }
      if shape.count == 3 { return .experts }
      return nil
    }
  }

  public var isEmpty: Bool { linear == nil && experts == nil }

  /// The spec that applies to `key`, if it is to be quantized and its shape allows it.
  public func spec(for key: String, shape: [Int]) -> (Kind, QuantizationSpec)? {
    guard let kind = classify(key, shape) else { return nil }
    switch kind {
    case .linear:
      guard let spec = linear, shape.count == 2, shape[1] % spec.groupSize == 0 else { return nil }
      return (kind, spec)
    case .experts:
      guard let spec = experts, shape.count == 3, shape[1] % spec.groupSize == 0 else { return nil }
      return (kind, spec)
    }
  }
}

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
