import XCTest

@testable import MLX

final class ReductionAndMatmulTests: XCTestCase {
  func testReductions() throws {
    let x = try Fixture.op("reduce/x")
    try assertClose(sum(x, axes: [1]), Fixture.op("reduce/sum_axis1"), atol: 1e-5)
    try assertClose(mean(x, axes: [0, 2], keepDims: true), Fixture.op("reduce/mean_axes02_keep"), atol: 1e-6)
    try assertClose(max(x).reshaped(1), Fixture.op("reduce/max_all"), atol: 0)  // the fixture stores a scalar as [1]
    try assertClose(min(x, axes: [2]), Fixture.op("reduce/min_axis2"), atol: 0)
    XCTAssertEqual(try argMax(x, axis: 2).asArray(UInt32.self), try Fixture.op("reduce/argmax_axis2").asArray(UInt32.self))
    try assertClose(l2Norm(x, axes: [-1]), Fixture.op("reduce/l2_last"), atol: 1e-6, rtol: 1e-6)
  }

  func testMatmulBroadcastsBatchDimensions() throws {
    try assertClose(matmul(Fixture.op("matmul/a"), Fixture.op("matmul/b")), Fixture.op("matmul/batched"), atol: 1e-5)
  }

  func testAddMM() throws {
    let a0 = try Fixture.op("matmul/a").sliced(axis: 0, 0..<1).squeezed(axes: [0])
    let result = try addMM(Fixture.op("matmul/c"), a0, Fixture.op("matmul/b"), alpha: 0.5, beta: 2)
    try assertClose(result, Fixture.op("matmul/addmm"), atol: 1e-5)
  }

  func testGatherMMPicksMatricesByIndex() throws {
    let result = try gatherMM(
      Fixture.op("gather_mm/a"), Fixture.op("gather_mm/b"), lhsIndices: Fixture.op("gather_mm/lhs"),
      rhsIndices: Fixture.op("gather_mm/rhs"))
    try assertClose(result, Fixture.op("gather_mm/expected"), atol: 1e-5)
  }

  func testSoftmaxFloat32AndPreciseBFloat16() throws {
    try assertClose(softmax(Fixture.op("softmax/x"), axis: -1, precise: true), Fixture.op("softmax/expected"), atol: 1e-7)
    let bf16 = try softmax(Fixture.op("softmax/x_bf16"), axis: -1, precise: true)
    XCTAssertEqual(bf16.dtype, .bfloat16)
    // One bf16 rounding of the float32 result: at most half a bf16 ulp (2^-8 relative).
    try assertClose(bf16, Fixture.op("softmax/expected_bf16"), atol: 0, rtol: 1.0 / 256)
  }
}
