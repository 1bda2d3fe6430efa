import XCTest

@testable import MLX

final class ElementwiseTests: XCTestCase {
  func testUnaryOpsMatchFloat64Math() throws {
    let x = try Fixture.op("unary/x")
    let positive = try Fixture.op("unary/positive")
    let cases: [(String, MLXArray)] = [
      ("negative", try -x), ("exp", try exp(x)), ("log", try log(positive)), ("sqrt", try sqrt(positive)),
      ("rsqrt", try rsqrt(positive)), ("tanh", try tanh(x)), ("sigmoid", try sigmoid(x)), ("silu", try silu(x)),
      ("sin", try sin(x)), ("cos", try cos(x)), ("abs", try abs(x)), ("square", try square(x)),
      ("floor", try floor(x)),
    ]
    for (name, actual) in cases {
      try assertClose(actual, Fixture.op("unary/\(name)"), atol: 1e-6, rtol: 2e-6, name)
    }
  }

  func testBinaryOpsMatchFloat64Math() throws {
    let x = try Fixture.op("binary/x")
    let y = try Fixture.op("binary/y")
    let positive = try Fixture.op("binary/positive")
    let cases: [(String, MLXArray)] = [
      ("add", try x + y), ("subtract", try x - y), ("multiply", try x * y), ("divide", try x / y),
      ("maximum", try maximum(x, y)), ("minimum", try minimum(x, y)), ("power", try pow(positive, y)),
      ("clip", try clip(x, min: -0.5, max: 0.75)),
      ("where", try which(greater(x, MLXArray.scalar(0)), x, y)),
    ]
    for (name, actual) in cases {
      try assertClose(actual, Fixture.op("binary/\(name)"), atol: 1e-6, rtol: 2e-6, name)
    }
  }

  func testScalarOperandKeepsTheArrayDtype() throws {
    let x = try MLXArray([1, 2, 3] as [Float], [3]).asType(.bfloat16)
    let y = try x * 0.5 + 1
    XCTAssertEqual(y.dtype, .bfloat16)
    try assertClose(y, MLXArray([1.5, 2, 2.5] as [Float], [3]), atol: 0, rtol: 0)
  }

  func testBroadcastingAndComparisons() throws {
    let a = try MLXArray([1, 2, 3, 4, 5, 6] as [Float], [2, 3])
    let row = try MLXArray([10, 20, 30] as [Float], [3])
    XCTAssertEqual(try (a + row).asArray(Float.self), [11, 22, 33, 14, 25, 36])
    XCTAssertEqual(try less(a, MLXArray.scalar(3.5)).asArray(Bool.self), [true, true, true, false, false, false])
  }

  /// Every comparison on operands that are equal in some places and differ either way in others (worked out by
  /// hand), so an op that ignores an operand or always answers the same fails.
  func testComparisonsAgainstWorkedOutTruthTables() throws {
    let a = try MLXArray([1, 2, 3, 4, 5, 6] as [Float], [2, 3])
    let b = try MLXArray([1, 0, 3, 7, 5, -6] as [Float], [2, 3])
    let cases: [(String, MLXArray, [Bool])] = [
      ("equal", try equal(a, b), [true, false, true, false, true, false]),
      ("notEqual", try notEqual(a, b), [false, true, false, true, false, true]),
      ("less", try less(a, b), [false, false, false, true, false, false]),
      ("lessEqual", try lessEqual(a, b), [true, false, true, true, true, false]),
      ("greater", try greater(a, b), [false, true, false, false, false, true]),
      ("greaterEqual", try greaterEqual(a, b), [true, true, true, false, true, true]),
      ("logicalNot(equal)", try logicalNot(equal(a, b)), [false, true, false, true, false, true]),
    ]
    for (name, result, expected) in cases {
      XCTAssertEqual(result.dtype, .bool, name)
      XCTAssertEqual(try result.asArray(Bool.self), expected, name)
    }
    let p = try greater(a, MLXArray.scalar(2.5))
    let q = try less(b, MLXArray.scalar(4))
    XCTAssertEqual(try logicalAnd(p, q).asArray(Bool.self), [false, false, true, false, false, true])
    XCTAssertEqual(try logicalOr(p, q).asArray(Bool.self), [true, true, true, true, true, true])
    XCTAssertEqual(try logicalOr(logicalNot(p), q).asArray(Bool.self), [true, true, true, false, false, true])
  }
}
