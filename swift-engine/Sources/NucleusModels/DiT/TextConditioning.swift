import MLX

/// A prompt embedding prepared for one image grid: every block's text keys and values (normed, rotated), which do
/// not depend on the timestep or the latents. Made once per (embedding, grid) and reused for every step.
public final class TextConditioning: @unchecked Sendable {
  /// Text tokens (padding included).
  public let length: Int
  /// [L] boolean (true = real token), or nil when every token is real.
  public let mask: MLXArray?
  /// Per block: [1, Hkv, L, Dh].
  public let keys: [MLXArray]
  public let values: [MLXArray]
  /// The RoPE text offset max(⌊h/2⌋, ⌊w/2⌋) the keys were rotated for.
  public let ropeOffset: Int

  init(length: Int, mask: MLXArray?, keys: [MLXArray], values: [MLXArray], ropeOffset: Int) {
    self.length = length
    self.mask = mask
    self.keys = keys
    self.values = values
    self.ropeOffset = ropeOffset
  }

  /// All arrays, for evaluating them eagerly when the conditioning is made.
  public var arrays: [MLXArray] { keys + values + (mask.map { [$0] } ?? []) }

  /// Bytes the cached keys and values occupy.
  public var nbytes: Int { arrays.reduce(0) { $0 + $1.nbytes } }
}

/// Several conditionings stacked into one batch: text padded to the longest with masked positions.
struct TextBatch {
  let keys: [MLXArray]  // per block [B, Hkv, Lmax, Dh]
  let values: [MLXArray]
  /// [B, Lmax] boolean, or nil when no conditioning needs a mask.
  let mask: MLXArray?

  init(_ conditionings: [TextConditioning]) throws {
    let longest = conditionings.map(\.length).max() ?? 0
    let needsMask = conditionings.contains { $0.mask != nil || $0.length < longest }
    func padded(_ array: MLXArray, to length: Int) throws -> MLXArray {
      let missing = length - array.shape[2]
      guard missing > 0 else { return array }
      var shape = array.shape
      shape[2] = missing
      return try concatenated([array, MLXArray.zeros(shape, dtype: array.dtype)], axis: 2)
    }
    let blocks = conditionings.first?.keys.count ?? 0
    keys = try (0..<blocks).map { block in try concatenated(conditionings.map { try padded($0.keys[block], to: longest) }, axis: 0) }
    values = try (0..<blocks).map { block in
      try concatenated(conditionings.map { try padded($0.values[block], to: longest) }, axis: 0)
    }
    if needsMask {
      mask = try concatenated(
        conditionings.map { conditioning in
          let real = try conditioning.mask ?? MLXArray.ones([conditioning.length], dtype: .bool)
          let tail = try MLXArray.zeros([longest - conditioning.length], dtype: .bool)
          return try concatenated([real, tail], axis: 0).reshaped(1, longest)
        }, axis: 0)
    } else {
      mask = nil
    }
  }
}
