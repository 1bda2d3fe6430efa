import XCTest

@testable import MLX

/// Reference values made by tools/reference/make_op_fixtures.py (NumPy / PyTorch), loaded with our own loader.
enum Fixture {
  static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  static let ops: [String: MLXArray] = {
    let path = repoRoot.appendingPathComponent("test/fixtures/ops/ops.safetensors").path
    return try! loadSafetensors(path: path).arrays
  }()

  static func op(_ key: String) throws -> MLXArray {
    guard let array = ops[key] else { throw MLXError("fixture key \(key) is missing: rerun make_op_fixtures.py") }
    return array
  }
}

/// Asserts equal shapes and |actual - expected| <= atol + rtol·|expected| elementwise (compared in float32).
func assertClose(
  _ actual: MLXArray, _ expected: MLXArray, atol: Float = 1e-5, rtol: Float = 1e-5, _ message: String = "",
  file: StaticString = #filePath, line: UInt = #line
) throws {
  XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
  guard actual.shape == expected.shape else { return }
  let a = try actual.asType(.float32).asArray(Float.self)
  let e = try expected.asType(.float32).asArray(Float.self)
  var worst: (index: Int, error: Float) = (0, 0)
  for index in a.indices {
    let error = Swift.abs(a[index] - e[index]) - (atol + rtol * Swift.abs(e[index]))
    if error > worst.error || a[index].isNaN { worst = (index, a[index].isNaN ? .infinity : error) }
  }
  XCTAssertLessThanOrEqual(
    worst.error, 0, "\(message): element \(worst.index) is \(a[worst.index]), expected \(e[worst.index])",
    file: file, line: line)
}
