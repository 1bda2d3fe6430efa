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

/// Asserts equal shapes and |actual - expected| <= atol + rtol·|expected| elementwise (compared in float32). A NaN
/// on either side, or an infinity where the other side differs, is a violation.
func assertClose(
  _ actual: MLXArray, _ expected: MLXArray, atol: Float = 1e-5, rtol: Float = 1e-5, _ message: String = "",
  file: StaticString = #filePath, line: UInt = #line
) throws {
  XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
  guard actual.shape == expected.shape else { return }
  let a = try actual.asType(.float32).asArray(Float.self)
  let e = try expected.asType(.float32).asArray(Float.self)
  if let worst = worstViolation(a, e, atol: atol, rtol: rtol) {
    XCTFail("\(message): element \(worst) is \(a[worst]), expected \(e[worst])", file: file, line: line)
  }
}

/// The index of the element furthest outside |a - e| <= atol + rtol·|e| (NaN counts as furthest), nil if none is.
func worstViolation(_ a: [Float], _ e: [Float], atol: Float, rtol: Float) -> Int? {
  precondition(a.count == e.count)
  var worst: (index: Int, excess: Float)?
  for index in a.indices {
    guard a[index] != e[index] else { continue }  // equal values (infinities included) agree
    let excess = Swift.abs(a[index] - e[index]) - (atol + rtol * Swift.abs(e[index]))
    guard !(excess <= 0) else { continue }  // also true for NaN
    let measure = excess.isNaN ? Float.infinity : excess
    if worst == nil || measure > worst!.excess { worst = (index, measure) }
  }
  return worst?.index
}
