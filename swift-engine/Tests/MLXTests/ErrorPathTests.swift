import XCTest

@testable import MLX

/// Bad shapes, axes and dtypes come back as thrown MLXErrors with MLX's message; the process carries on.
final class ErrorPathTests: XCTestCase {
  private func assertThrowsMLX(
    _ what: String, _ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertThrowsError(try body(), what, file: file, line: line) { error in
      XCTAssertTrue(error is MLXError, "\(what): \(error)", file: file, line: line)
      XCTAssertFalse("\(error)".isEmpty, file: file, line: line)
    }
  }

  func testShapeMismatches() throws {
    let a = try MLXArray.ones([2, 3])
    let b = try MLXArray.ones([4, 5])
    assertThrowsMLX("matmul") { try matmul(a, b) }
    assertThrowsMLX("broadcast add") { try a + b }
    assertThrowsMLX("reshape") { try a.reshaped(4, 2) }
    assertThrowsMLX("concatenate") { try concatenated([a, b], axis: 0) }
    assertThrowsMLX("broadcast_to") { try a.broadcast(to: [3, 3]) }
    assertThrowsMLX("conv2d channels") {
      try conv2d(MLXArray.ones([1, 4, 4, 3]), MLXArray.ones([2, 3, 3, 5]))
    }
    assertThrowsMLX("attention heads") {
      try MLXFast.scaledDotProductAttention(
        queries: MLXArray.ones([1, 6, 4, 8]), keys: MLXArray.ones([1, 4, 4, 8]), values: MLXArray.ones([1, 4, 4, 8]),
        scale: 1)
    }
    assertThrowsMLX("gather_mm inner") { try gatherMM(MLXArray.ones([2, 3, 4]), MLXArray.ones([2, 5, 6])) }
  }

  func testBadAxes() throws {
    let a = try MLXArray.ones([2, 3])
    assertThrowsMLX("softmax axis") { try softmax(a, axis: 5) }
    assertThrowsMLX("sum axis") { try sum(a, axes: [9]) }
    assertThrowsMLX("take axis") { try a.take(MLXArray([0] as [Int32], [1]), axis: 3) }
    assertThrowsMLX("split parts") { try a.split(parts: 2, axis: 1) }
    assertThrowsMLX("transpose axes") { try a.transposed(0, 0) }
    assertThrowsMLX("squeeze non-unit") { try a.squeezed(axes: [0]) }
    assertThrowsMLX("slice axis") { try a.sliced(axis: 4, 0..<1) }
    assertThrowsMLX("slice arity") { try a.sliced(start: [0], stop: [1]) }
  }

  func testWrongDtypes() throws {
    let ints = try MLXArray([1, 2, 3, 4] as [Int32], [1, 4])
    assertThrowsMLX("asArray type") { try ints.asArray(Float.self) }
    assertThrowsMLX("quantize integers") { try quantized(MLXArray.ones([4, 64], dtype: .int32), groupSize: 64, bits: 4) }
    assertThrowsMLX("layer norm of integers") { try MLXFast.layerNorm(ints, eps: 1e-6) }
    assertThrowsMLX("item of many") { try ints.item(Int32.self) }
    assertThrowsMLX("bytes for shape") {
      try [UInt8](repeating: 0, count: 3).withUnsafeBytes { try MLXArray(bytes: $0, dtype: .float32, shape: [1]) }
    }
  }

  func testTheBridgeStillWorksAfterErrors() throws {
    for _ in 0..<100 { _ = try? matmul(MLXArray.ones([2, 3]), MLXArray.ones([4, 5])) }
    XCTAssertEqual(try matmul(MLXArray.ones([2, 3]), MLXArray.ones([3, 1])).asArray(Float.self), [3, 3])
  }
}
