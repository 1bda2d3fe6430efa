import XCTest

@testable import MLX

/// Our fused CPU attention (every variant this CPU runs: portable, AVX2, AVX-512) and MLX's own implementation
/// against NumPy float64 values from tools/reference/make_kernel_fixtures.py.
final class AttentionKernelTests: XCTestCase {
  static let fixtures: [String: MLXArray] = {
    let path = Fixture.repoRoot.appendingPathComponent("test/fixtures/kernels/attention.safetensors").path
    return try! loadSafetensors(path: path).arrays
  }()

  /// NaN inputs for the poisoned pass before each variant (see KernelOpsTests.poisoning).
  static var poisoning = false

  static func fixture(_ key: String) throws -> MLXArray {
    guard let array = fixtures[key] else { throw MLXError("fixture key \(key) is missing: rerun make_kernel_fixtures.py") }
    return poisoning && array.dtype == .float32 ? try array * Double.nan : array
  }

  func forEveryVariant(_ body: (String) throws -> Void) throws {
    XCTAssertTrue(CPUKernels.supported.contains("portable"))
    for variant in CPUKernels.supported {
      try CPUKernels.with("mlx") {
        Self.poisoning = true
        defer { Self.poisoning = false }
        try body(variant)
      }
      try CPUKernels.with(variant) { try body(variant) }
    }
  }

  static let cases: [(name: String, mask: MaskUse)] = [
    ("plain_gqa", .none), ("key_padding", .array), ("random_boolean", .array), ("additive", .array),
    ("causal_rectangular", .causal), ("causal_square", .causal), ("wide_heads", .array), ("many_blocks", .array),
    ("dim_40", .none), ("dim_36", .array), ("value_dim_differs", .none), ("single", .none), ("all_hidden_row", .array),
  ]

  enum MaskUse { case none, causal, array }

  func attention(_ name: String, _ use: MaskUse, queries: MLXArray? = nil) throws -> MLXArray {
    func f(_ key: String) throws -> MLXArray { try Self.fixture("\(name)/\(key)") }
    let mask: MLXFast.AttentionMask =
      switch use {
      case .none: .none
      case .causal: .causal
      case .array: .array(try f("mask"))
      }
    let result = try MLXFast.scaledDotProductAttention(
      queries: queries ?? f("q"), keys: f("k"), values: f("v"), scale: f("scale").item(Float.self), mask: mask)
    try eval(result)
    return result
  }

  /// Relative RMS of the error and the largest error relative to the expected values' RMS.
  func assertParity(_ actual: MLXArray, _ expected: MLXArray, _ message: String, file: StaticString = #filePath,
                    line: UInt = #line) throws {
    if Self.poisoning { return try eval(actual) }
    XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
    guard actual.shape == expected.shape else { return }
    let a = try actual.asArray(Float.self)
    let e = try expected.asArray(Float.self)
    let rms = (e.reduce(0) { $0 + Double($1) * Double($1) } / Double(e.count)).squareRoot()
    var squared = 0.0
    var worst = 0.0
    for (x, y) in zip(a, e) {
      let error = x.isFinite ? Swift.abs(Double(x) - Double(y)) : .infinity
      squared += error * error
      worst = Swift.max(worst, error)
    }
    let relativeRMS = (squared / Double(e.count)).squareRoot() / rms
    XCTAssertLessThanOrEqual(relativeRMS, 1e-5, "\(message): relative RMS error", file: file, line: line)
    XCTAssertLessThanOrEqual(worst / rms, 1e-4, "\(message): largest error / RMS", file: file, line: line)
  }

  func testEveryVariantMatchesNumPyOnEveryCase() throws {
    try forEveryVariant { variant in
      for (name, mask) in Self.cases {
        try assertParity(try attention(name, mask), try Self.fixture("\(name)/out"), "\(variant) \(name)")
      }
    }
  }

  /// Keys in chunks of 64 and 100 (the long-sequence path with the online softmax) on every case.
  func testChunkedKeysMatchNumPyOnEveryCase() throws {
    for keys in [64, 100] {
      try CPUKernels.withAttentionChunk(keys: keys) {
        try forEveryVariant { variant in
          for (name, mask) in Self.cases {
            try assertParity(try attention(name, mask), try Self.fixture("\(name)/out"), "\(variant) \(name), \(keys)-key chunks")
          }
        }
      }
    }
  }

  func testStridedQueriesGiveTheSameResult() throws {
    try forEveryVariant { variant in
      for (name, mask) in [("plain_gqa", MaskUse.none), ("key_padding", .array)] {
        let strided = try Self.fixture("\(name)/q_blhd").transposed(0, 2, 1, 3)
        try assertParity(try attention(name, mask, queries: strided), try Self.fixture("\(name)/out"), "\(variant) \(name) strided")
      }
    }
  }

  func testSelectionRefusesUnknownAndUnsupportedVariants() throws {
    XCTAssertThrowsError(try CPUKernels.select("sse9")) { error in
      XCTAssertTrue("\(error)".contains("unknown CPU kernel variant"), "\(error)")
    }
    if CPUKernels.best != "avx512" {
      XCTAssertThrowsError(try CPUKernels.select("avx512")) { error in
        XCTAssertTrue("\(error)".contains("cannot run"), "\(error)")
      }
    }
    let before = CPUKernels.active
    try CPUKernels.with("portable") { XCTAssertEqual(CPUKernels.active, "portable") }
    XCTAssertEqual(CPUKernels.active, before)
  }

  func testShapeErrorsAreReported() throws {
    let q = try MLXArray.zeros([1, 3, 4, 8])
    let k = try MLXArray.zeros([1, 2, 5, 8])
    XCTAssertThrowsError(try MLXFast.scaledDotProductAttention(queries: q, keys: k, values: k, scale: 1)) { error in
      XCTAssertTrue("\(error)".contains("multiple of key/value heads"), "\(error)")
    }
  }
}
