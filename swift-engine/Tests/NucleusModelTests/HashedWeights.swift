@testable import Checkpoints
import CHashedWeights
import Foundation
import MLX

/// Weights from a counter-based hash, exactly representable in bfloat16, so that a Python script
/// (tools/reference/make_dit_fixtures.py, `hashed_weight`) makes the very same tensors with NumPy and runs them
/// through diffusers: big models for parity without committing their weights.
///
/// For tensor `key` (seed: FNV-1a of its UTF-8 bytes) and element `i` (row-major in the checkpoint's layout):
///   x = i·0x9E3779B1 + seed·0x85EBCA77 + 0x165667B1 (mod 2³²), then x ^= x >> 15; x ·= 0x2C1B3C6D; x ^= x >> 12;
///   x ·= 0x297A2D39; x ^= x >> 15;  q = (x >> 24) − 128 ∈ [−128, 127]
///   norm scales: 1 + (q >> 4) / 128;  everything else: q · 2^−e with e = 6 + ⌈log2(fan_in) / 2⌉ (std ≈ 1/√fan_in)
enum HashedWeights {
  static func seed(_ key: String) -> UInt32 {
    var hash: UInt32 = 0x811C_9DC5
    for byte in key.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
    return hash
  }

  static func level(_ index: UInt32, seed: UInt32) -> Int32 {
    var x = index &* 0x9E37_79B1 &+ seed &* 0x85EB_CA77 &+ 0x1656_67B1
    x ^= x >> 15
    x &*= 0x2C1B_3C6D
    x ^= x >> 12
    x &*= 0x297A_2D39
    x ^= x >> 15
    return Int32(x >> 24) - 128
  }

  /// The fan-in of a checkpoint tensor: a linear [out, in] reads `in`, an expert stack [E, in, out] reads `in`.
  static func scaleExponent(shape: [Int]) -> Int {
    let fanIn = shape.count == 3 ? shape[1] : shape.last!
    return 6 + Int((log2(Double(fanIn)) / 2).rounded(.up))
  }

  static func isNormScale(_ key: String) -> Bool { key.hasSuffix(".weight") && key.split(separator: ".").dropLast().last!.contains("norm") }

  /// bf16 bit patterns of elements `start...` of tensor `key`, written into `out` (the loop is C built with
  /// optimization: tests build without, where a Swift loop costs about 100 ns per element).
  static func fillBFloat16Bits(_ key: String, shape: [Int], start: Int, into out: UnsafeMutableBufferPointer<UInt16>) {
    let seed = seed(key)
    var table = [UInt16](repeating: 0, count: 256)
    let scale = Float(sign: .plus, exponent: -scaleExponent(shape: shape), significand: 1)
    let norm = isNormScale(key)
    for byte in 0..<256 {
      let q = Int32(byte) - 128
      let value = norm ? 1 + Float(q >> 4) / 128 : Float(q) * scale
      table[byte] = UInt16(value.bitPattern >> 16)
    }
    hashed_weights_fill_bf16(seed, UInt64(start), out.count, table, out.baseAddress!)
  }

  static func bfloat16Bits(_ key: String, shape: [Int], range: Range<Int>) -> [UInt16] {
    var bits = [UInt16](repeating: 0, count: range.count)
    bits.withUnsafeMutableBufferPointer { fillBFloat16Bits(key, shape: shape, start: range.lowerBound, into: $0) }
    return bits
  }

  /// Writes the tensors of `layout` as one component folder (bf16, sharded like the release), `chunk` elements at a
  /// time so that no tensor is held whole.
  static func writeComponent(
    layout: [(String, [Int])], config: JSONValue, fileStem: String, to directory: String, maxShardBytes: Int,
    chunk: Int = 1 << 24
  ) throws {
    let staging = try FolderStaging(target: directory, overwrite: true)
    try FileBytes.writeFile(try JSONValue.encodePretty(config), to: staging.path + "/config.json")
    let shapes = Dictionary(uniqueKeysWithValues: layout)
    let shards = ShardLayout(
      tensors: layout.map { SafetensorsWriter.Tensor(key: $0.0, dtype: .bfloat16, shape: $0.1) }, stem: fileStem,
      maxShardBytes: maxShardBytes)
    for shard in shards.shards {
      let writer = try SafetensorsWriter(path: staging.path + "/" + shard.name, tensors: shard.tensors)
      for tensor in shard.tensors {
        let count = shapes[tensor.key]!.reduce(1, *)
        for start in stride(from: 0, to: count, by: chunk) {
          let bits = bfloat16Bits(tensor.key, shape: shapes[tensor.key]!, range: start..<Swift.min(count, start + chunk))
          try bits.withUnsafeBytes { try writer.write(tensor.key, bytes: $0, at: start * 2) }
        }
      }
      try writer.finish()
    }
    if let index = try shards.index() { try FileBytes.writeFile(index, to: staging.path + "/" + shards.indexName) }
    try staging.commit()
  }
}
