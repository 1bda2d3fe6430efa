import MLX

/// How a parameter may be stored quantized (affine, groups along the input axis).
public enum QuantizationKind: Sendable, Equatable {
  /// A linear weight [out, in].
  case linear
  /// A stack of expert weights [E, in, out] (y = x @ W[e]); stored quantized as [E, out, in].
  case experts
}

/// How a checkpoint tensor becomes the parameter: the one place a layer states a layout fix-up.
public enum CheckpointLayout: Sendable, Equatable {
  /// Stored as the layer uses it.
  case same
  /// A PyTorch 2-D convolution [O, I, kh, kw], used as MLX's OHWI.
  case convolutionOIHW
  /// A causal 3-D convolution [O, I, kt, kh, kw] applied to a single frame: only the last temporal slice touches
  /// real data (the causal padding is zeros), used as OHWI.
  case causalConvolution(temporalKernel: Int)
  /// The same elements under another shape (e.g. a norm scale stored [C, 1, 1, 1]).
  case reshaped(from: [Int])

  /// The checkpoint's shape for a parameter of `shape`.
  public func checkpointShape(for shape: [Int]) -> [Int] {
    switch self {
    case .same: return shape
    case .convolutionOIHW: return [shape[0], shape[3], shape[1], shape[2]]
    case .causalConvolution(let depth): return [shape[0], shape[3], depth, shape[1], shape[2]]
    case .reshaped(let from): return from
    }
  }

  /// The checkpoint tensor in the layer's layout (lazy).
  public func apply(_ stored: MLXArray, shape: [Int]) throws -> MLXArray {
    switch self {
    case .same: return stored
    case .convolutionOIHW: return try stored.transposed(0, 2, 3, 1)
    case .causalConvolution(let depth):
      return try stored.sliced(axis: 2, (depth - 1)..<depth).squeezed(axes: [2]).transposed(0, 2, 3, 1)
    case .reshaped: return try stored.reshaped(shape)
    }
  }
}

/// One weight tensor of a layer: its shape, whether it may be quantized, how it is laid out in checkpoints, and
/// (once loaded) its value, dense or quantized. Layers cast dense values to the activations' dtype when they use
/// them, so weights can be stored in a narrower dtype than the computation runs in.
public final class Parameter: @unchecked Sendable {
  public enum Value {
    case unloaded
    case dense(MLXArray)
    case quantized(QuantizedWeight)
  }

  /// The dense shape the layer computes with.
  public let shape: [Int]
  /// nil when the layer never quantizes this tensor (norms, biases, routers, embeddings).
  public let quantization: QuantizationKind?
  public let layout: CheckpointLayout
  public private(set) var value: Value = .unloaded

  public init(_ shape: [Int], quantization: QuantizationKind? = nil, layout: CheckpointLayout = .same) {
    self.shape = shape
    self.quantization = quantization
    self.layout = layout
  }

  public var elementCount: Int { shape.reduce(1, *) }
  public var checkpointShape: [Int] { layout.checkpointShape(for: shape) }

  public var isQuantized: Bool {
    if case .quantized = value { return true }
    return false
  }

  /// Bytes the value occupies (0 while unloaded).
  public var nbytes: Int {
    switch value {
    case .unloaded: 0
    case .dense(let array): array.nbytes
    case .quantized(let q): q.weight.nbytes + q.scales.nbytes + q.biases.nbytes
    }
  }

  public func set(_ array: MLXArray) { value = .dense(array) }
  public func set(_ quantized: QuantizedWeight) { value = .quantized(quantized) }

  /// The dense value cast to `dtype` (a no-op when it already is).
  public func dense(as dtype: DType) throws -> MLXArray {
    guard case .dense(let array) = value else {
      throw MLXError(isQuantized ? "a quantized parameter was used as a dense one" : "a parameter was used before it was loaded")
    }
    return array.dtype == dtype ? array : try array.asType(dtype)
  }

  /// The dtype the value is stored in (scales' dtype when quantized; nil while unloaded).
  public var storedDType: DType? {
    switch value {
    case .unloaded: nil
    case .dense(let array): array.dtype
    case .quantized(let q): q.scales.dtype
    }
  }

  /// Every array the value holds (to evaluate them).
  public var arrays: [MLXArray] {
    switch value {
    case .unloaded: []
    case .dense(let array): [array]
    case .quantized(let q): [q.weight, q.scales, q.biases]
    }
  }

  /// The quantized form of a dense value of this parameter (a linear weight, or a slice of an expert stack along
  /// its first axis), quantized in the value's own dtype.
  public func quantizedForm(of dense: MLXArray, _ spec: QuantizationSpec) throws -> QuantizedWeight {
    switch quantization {
    case .linear: return try quantized(dense, groupSize: spec.groupSize, bits: spec.bits)
    case .experts: return try quantized(dense.transposed(0, 2, 1), groupSize: spec.groupSize, bits: spec.bits)
    case nil: throw MLXError("this parameter cannot be quantized")
    }
  }

  /// Whether `spec` can quantize this parameter (the input axis splits into whole groups).
  public func canQuantize(_ spec: QuantizationSpec) -> Bool {
    guard let kind = quantization else { return false }
    let input = kind == .linear ? shape.last! : shape[1]
    return input % spec.groupSize == 0 && (input * spec.bits) % 32 == 0
  }

  /// The packed shapes of the quantized form: weight (uint32) and scales/biases.
  public func quantizedShapes(_ spec: QuantizationSpec) -> (weight: [Int], groups: [Int])? {
    guard let kind = quantization else { return nil }
    let (prefix, output, input): ([Int], Int, Int) =
      kind == .linear ? ([], shape[0], shape[1]) : ([shape[0]], shape[2], shape[1])
    return (prefix + [output, input * spec.bits / 32], prefix + [output, input / spec.groupSize])
  }
}

/// How a component's checkpoint stores its quantized weights (recorded in config.json; MLX's affine scheme).
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
