import MLX

/// Every problem found while building a model from a key→tensor map, reported together.
public struct WeightLoadingError: Error, CustomStringConvertible, Sendable {
  public var missing: [String]
  public var unexpected: [String]
  public var mismatched: [String]

  public var description: String {
    var parts: [String] = []
    if !missing.isEmpty { parts.append("missing keys (\(missing.count)): \(missing.joined(separator: ", "))") }
    if !unexpected.isEmpty { parts.append("unexpected keys (\(unexpected.count)): \(unexpected.joined(separator: ", "))") }
    if !mismatched.isEmpty { parts.append("mismatched (\(mismatched.count)): \(mismatched.joined(separator: "; "))") }
    return "the weights do not fit the model: " + parts.joined(separator: "; ")
  }
}

/// The tensors of one model component by checkpoint key. Layers take their parameters from it with the shape
/// they expect; problems are collected instead of thrown one by one, and `finish()` reports all of them at once,
/// including keys no layer asked for.
public final class WeightStore {
  private var arrays: [String: MLXArray]
  private var consumed: Set<String> = []
  private var missing: [String] = []
  private var mismatched: [String] = []
  /// Floating-point parameters are cast to this dtype when taken (nil keeps the stored dtype).
  public let computeDType: DType?

  public init(_ arrays: [String: MLXArray], computeDType: DType? = nil) {
    self.arrays = arrays
    self.computeDType = computeDType
  }

  public var keys: Dictionary<String, MLXArray>.Keys { arrays.keys }

  public func contains(_ key: String) -> Bool { arrays[key] != nil }

  /// The parameter `key` with exactly `shape`; a missing or misshapen one is recorded and a zero placeholder is
  /// returned so that building can go on and find every other problem.
  public func take(_ key: String, shape: [Int], dtype expected: DType? = nil) throws -> MLXArray {
    consumed.insert(key)
    guard let array = arrays[key] else {
      missing.append(key)
      return try MLXArray.zeros(shape, dtype: expected ?? computeDType ?? .float32)
    }
    if array.shape != shape {
      mismatched.append("\(key) has shape \(array.shape), the model expects \(shape)")
      return try MLXArray.zeros(shape, dtype: expected ?? computeDType ?? .float32)
    }
    if let expected, array.dtype != expected {
      mismatched.append("\(key) has dtype \(array.dtype), the model expects \(expected)")
      return try MLXArray.zeros(shape, dtype: expected)
    }
    if expected == nil, !array.dtype.isFloatingPoint {
      mismatched.append("\(key) has dtype \(array.dtype), the model expects floating point")
      return try MLXArray.zeros(shape, dtype: computeDType ?? .float32)
    }
    if expected == nil, let computeDType { return try array.asType(computeDType) }
    return array
  }

  /// Like `take`, but a missing key is not a problem (returns nil).
  public func takeIfPresent(_ key: String, shape: [Int], dtype: DType? = nil) throws -> MLXArray? {
    guard contains(key) else { return nil }
    return try take(key, shape: shape, dtype: dtype)
  }

  /// Marks keys that exist in checkpoints but that the model deliberately does not use.
  public func ignore(where predicate: (String) -> Bool) {
    for key in arrays.keys where predicate(key) { consumed.insert(key) }
  }

  /// Throws a `WeightLoadingError` naming every missing, unexpected and mismatched key.
  public func finish() throws {
    let unexpected = arrays.keys.filter { !consumed.contains($0) }.sorted()
    guard missing.isEmpty, unexpected.isEmpty, mismatched.isEmpty else {
      throw WeightLoadingError(missing: missing.sorted(), unexpected: unexpected, mismatched: mismatched.sorted())
    }
  }

  /// A view that prefixes keys ("blocks.0" + "attn.to_q.weight").
  public func scope(_ prefix: String) -> WeightScope { WeightScope(store: self, prefix: prefix) }
}

/// Keys relative to a module path inside a `WeightStore`.
public struct WeightScope {
  public let store: WeightStore
  public let prefix: String

  public func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }
  public func scope(_ name: String) -> WeightScope { WeightScope(store: store, prefix: key(name)) }
  public func take(_ name: String, shape: [Int], dtype: DType? = nil) throws -> MLXArray {
    try store.take(key(name), shape: shape, dtype: dtype)
  }
  public func takeIfPresent(_ name: String, shape: [Int], dtype: DType? = nil) throws -> MLXArray? {
    try store.takeIfPresent(key(name), shape: shape, dtype: dtype)
  }
  public func contains(_ name: String) -> Bool { store.contains(key(name)) }
}
