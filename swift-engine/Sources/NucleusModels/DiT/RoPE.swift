import MLX

/// Nucleus-Image's 3-axis rotary embedding (frame / height / width), applied to interleaved pairs.
///
/// Each head dimension pair (2k, 2k+1) is a complex number rotated by an angle: the first axes_dims[0]/2 pairs by
/// the frame position, the next by the height position, the last by the width position. Image positions are
/// centred (row r of h has position r − (h − ⌊h/2⌋)); text token j sits at max(⌊h/2⌋, ⌊w/2⌋) + j on all three axes.
/// Angles are formed in float32 exactly as diffusers does (float32 frequencies times float32 positions), so
/// large positions round the same way.
public struct RotaryTables: @unchecked Sendable {
  /// [tokens, 1, head_dim] float32: cos θ_k at both positions of pair k.
  public let cos: MLXArray
  /// [tokens, 1, head_dim] float32: −sin θ_k at position 2k, +sin θ_k at 2k+1.
  public let sin: MLXArray
  public let tokens: Int
}

public enum NucleusRoPE {
  static let theta: Float = 10000

  /// Per-pair frequencies of one axis: 1 / θ^(2j/d), in float32.
  static func frequencies(dimension: Int) -> [Float] {
    (0..<(dimension / 2)).map { j in 1 / powf(theta, Float(2 * j) / Float(dimension)) }
  }

  /// Tables for the h × w image grid (row-major tokens, frame 0).
  public static func image(height h: Int, width w: Int, axes: [Int]) throws -> RotaryTables {
    let rowStart = -(h - h / 2)
    let columnStart = -(w - w / 2)
    var positions: [[Int]] = []
    positions.reserveCapacity(h * w)
    for row in 0..<h {
      for column in 0..<w { positions.append([0, rowStart + row, columnStart + column]) }
    }
    return try tables(positions: positions, axes: axes)
  }

  /// Tables for `length` text tokens after an h × w image.
  public static func text(length: Int, height h: Int, width w: Int, axes: [Int]) throws -> RotaryTables {
    let start = Swift.max(h / 2, w / 2)
    return try tables(positions: (0..<length).map { j in Array(repeating: start + j, count: 3) }, axes: axes)
  }

  static func tables(positions: [[Int]], axes: [Int]) throws -> RotaryTables {
    let frequencies = axes.map(frequencies(dimension:))
    let width = axes.reduce(0, +)
    var cosines = [Float](repeating: 0, count: positions.count * width)
    var sines = cosines
    for (token, position) in positions.enumerated() {
      var pair = 0
      for (axis, axisFrequencies) in frequencies.enumerated() {
        for frequency in axisFrequencies {
          let angle = Float(position[axis]) * frequency
          let (c, s) = (Float(Foundation_cos(Double(angle))), Float(Foundation_sin(Double(angle))))
          cosines[token * width + 2 * pair] = c
          cosines[token * width + 2 * pair + 1] = c
          sines[token * width + 2 * pair] = -s
          sines[token * width + 2 * pair + 1] = s
          pair += 1
        }
      }
    }
    return RotaryTables(
      cos: try MLXArray(cosines, [positions.count, 1, width]), sin: try MLXArray(sines, [positions.count, 1, width]),
      tokens: positions.count)
  }

  /// Rotates x [B, N, H, D] by the tables (N tokens), computed in float32:
  /// (x₂ₖ, x₂ₖ₊₁) -> (x₂ₖ cos − x₂ₖ₊₁ sin, x₂ₖ sin + x₂ₖ₊₁ cos), i.e. x · cos + partner(x) · (∓sin).
  public static func apply(_ x: MLXArray, _ tables: RotaryTables) throws -> MLXArray {
    try MLXFast.rotatePairs(x.asType(.float32), cos: tables.cos, sin: tables.sin).asType(x.dtype)
  }
}

#if canImport(Glibc)
  import Glibc
  private func Foundation_cos(_ x: Double) -> Double { Glibc.cos(x) }
  private func Foundation_sin(_ x: Double) -> Double { Glibc.sin(x) }
#elseif canImport(Darwin)
  import Darwin
  private func Foundation_cos(_ x: Double) -> Double { Darwin.cos(x) }
  private func Foundation_sin(_ x: Double) -> Double { Darwin.sin(x) }
#endif
