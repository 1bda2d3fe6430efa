import XCTest

@testable import MLX

final class BridgeTests: XCTestCase {
  func testMatmulMatchesHandComputedProduct() throws {
    // [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
    let a = try MLXArray([1, 2, 3, 4] as [Float], [2, 2])
    let b = try MLXArray([5, 6, 7, 8] as [Float], [2, 2])
    XCTAssertEqual(try matmul(a, b).asArray(Float.self), [19, 22, 43, 50])
  }

  func testSoftmaxOfEqualLogitsIsUniform() throws {
    let x = try MLXArray([2, 2, 2, 2] as [Float], [1, 4])
    XCTAssertEqual(try softmax(x).asArray(Float.self), [0.25, 0.25, 0.25, 0.25])
  }

  func testShapeMismatchThrowsInsteadOfAborting() throws {
    let a = try MLXArray([Float](repeating: 1, count: 6), [2, 3])
    let b = try MLXArray([Float](repeating: 1, count: 8), [4, 2])
    XCTAssertThrowsError(try matmul(a, b)) { error in
      XCTAssertTrue("\(error)".contains("matmul"), "message should come from MLX: \(error)")
    }
  }

  func testBadAxisThrows() throws {
    let a = try MLXArray([Float](repeating: 1, count: 6), [2, 3])
    XCTAssertThrowsError(try softmax(a, axis: 5))
  }

  func testWrongElementCountThrows() {
    XCTAssertThrowsError(try MLXArray([1, 2, 3] as [Float], [2, 2]))
  }

  func testShapeAndDtypeRoundTrip() throws {
    let a = try MLXArray([1, 2, 3, 4, 5, 6] as [Int32], [3, 2])
    XCTAssertEqual(a.shape, [3, 2])
    XCTAssertEqual(a.dtype, .int32)
    XCTAssertEqual(try a.asArray(Int32.self), [1, 2, 3, 4, 5, 6])
    XCTAssertThrowsError(try a.asArray(Float.self))
  }

  func testDeviceReportsVersionAndBackend() throws {
    XCTAssertEqual(Device.mlxVersion, "0.32.4")
    XCTAssertTrue(["cpu", "metal", "cuda"].contains(Device.backend))
  }
}
