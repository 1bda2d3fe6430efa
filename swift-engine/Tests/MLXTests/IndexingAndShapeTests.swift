import XCTest

@testable import MLX

final class IndexingAndShapeTests: XCTestCase {
  func testGathersAndScatters() throws {
    let x = try Fixture.op("indexing/x")
    try assertClose(x.take(Fixture.op("indexing/take_idx"), axis: 0), Fixture.op("indexing/take"), atol: 0)
    let along = try Fixture.op("indexing/along_idx")
    try assertClose(x.takeAlong(along, axis: 0), Fixture.op("indexing/take_along"), atol: 0)
    let firstTwo = try along.sliced(axis: 0, 0..<2)
    try assertClose(
      x.putAlong(firstTwo, values: Fixture.op("indexing/put_values"), axis: 0), Fixture.op("indexing/put_along"), atol: 0)
    try assertClose(
      x.scatterAddAlong(Fixture.op("indexing/scatter_idx"), values: Fixture.op("indexing/scatter_values"), axis: 0),
      Fixture.op("indexing/scatter_add_axis"), atol: 1e-6)
    // Row scatter with a repeated row: updates [4, 1, 3] for index shape [4] and slice shape [1, 3].
    let updates = try Fixture.op("indexing/row_updates").expandedDimensions(axis: 1)
    try assertClose(
      x.scatterAdd(indices: [Fixture.op("indexing/rows")], updates: updates, axes: [0]),
      Fixture.op("indexing/row_scatter"), atol: 1e-6)
  }

  func testArgSortAndArgPartition() throws {
    let x = try Fixture.op("indexing/x")
    XCTAssertEqual(try argSort(x, axis: 1).asArray(UInt32.self), try Fixture.op("indexing/argsort_axis1").asArray(UInt32.self))
    // Partition property: the k smallest (by value) come first, in any order.
    let values: [Float] = [5, -1, 3, 9, 0, 7, 2, 8]
    let k = 3
    let indices = try argPartition(MLXArray(values, [8]), kth: k - 1).asArray(UInt32.self)
    let firstK = Set(indices.prefix(k).map { values[Int($0)] })
    XCTAssertEqual(firstK, Set(values.sorted().prefix(k)))
    XCTAssertEqual(Set(indices), Set((0..<8).map(UInt32.init)))
  }

  func testShapeOps() throws {
    let x = try Fixture.op("shape/x")
    try assertClose(x.transposed(1, 2, 0), Fixture.op("shape/transpose_120"), atol: 0)
    try assertClose(x.transposed(), Fixture.op("shape/reverse"), atol: 0)
    try assertClose(x.sliced(start: [0, 1, 0], stop: [2, 3, 4], strides: [1, 1, 2]), Fixture.op("shape/slice"), atol: 0)
    try assertClose(x.repeated(2, axis: 1), Fixture.op("shape/repeat_axis1"), atol: 0)
    try assertClose(concatenated([x, x * 2], axis: 2), Fixture.op("shape/concat_axis2"), atol: 0)
    try assertClose(x.sliced(axis: 1, 0..<1).broadcast(to: [2, 5, 4]), Fixture.op("shape/broadcast"), atol: 0)
    XCTAssertEqual(try x.reshaped(6, -1).shape, [6, 4])
    XCTAssertEqual(try x.expandedDimensions(axis: 0).shape, [1, 2, 3, 4])
    XCTAssertEqual(try x.expandedDimensions(axis: 0).squeezed().shape, [2, 3, 4])
    let parts = try x.split(parts: 2, axis: 2)
    XCTAssertEqual(parts.map(\.shape), [[2, 3, 2], [2, 3, 2]])
    try assertClose(concatenated(parts, axis: 2), x, atol: 0)
    XCTAssertEqual(try x.split(indices: [1], axis: 1).map(\.shape), [[2, 1, 4], [2, 2, 4]])
  }

  func testCreation() throws {
    XCTAssertEqual(try MLXArray.zeros([2, 2]).asArray(Float.self), [0, 0, 0, 0])
    XCTAssertEqual(try MLXArray.ones([3], dtype: .int32).asArray(Int32.self), [1, 1, 1])
    XCTAssertEqual(try MLXArray.full([2], value: 2.5).asArray(Float.self), [2.5, 2.5])
    XCTAssertEqual(try MLXArray.arange(0, 5, step: 2, dtype: .int32).asArray(Int32.self), [0, 2, 4])
    XCTAssertEqual(try MLXArray.scalar(3, dtype: .bfloat16).dtype, .bfloat16)
  }

  func testCastsRoundLikePyTorch() throws {
    let x = try Fixture.op("cast/x")
    XCTAssertEqual(try x.asType(.bfloat16).bytes(), try Fixture.op("cast/bf16").bytes(), "bfloat16 rounding")
    XCTAssertEqual(try x.asType(.float16).bytes(), try Fixture.op("cast/f16").bytes(), "float16 rounding")
    XCTAssertEqual(try x.asType(.int32).asArray(Int32.self), try Fixture.op("cast/i32").asArray(Int32.self))
    try assertClose(Fixture.op("cast/bf16").asType(.float32), Fixture.op("cast/from_bf16"), atol: 0)
    let flags = try MLXArray([0, 2, -1] as [Int32], [3]).asType(.bool)
    XCTAssertEqual(try flags.asArray(Bool.self), [false, true, true])
    XCTAssertEqual(try flags.asType(.uint8).asArray(UInt8.self), [0, 1, 1])
    XCTAssertEqual(try MLXArray([7, 300] as [UInt32], [2]).asType(.float32).asArray(Float.self), [7, 300])
  }

  func testRandomNormalIsDeterministicPerKeyAndStandard() throws {
    let key = try MLXRandom.key(42)
    let a = try MLXRandom.normal([100_000], key: key).asArray(Float.self)
    let b = try MLXRandom.normal([100_000], key: key).asArray(Float.self)
    XCTAssertEqual(a, b)
    let other = try MLXRandom.normal([100_000], key: MLXRandom.key(43)).asArray(Float.self)
    XCTAssertNotEqual(a, other)
    // For N(0, 1) with n = 1e5: the sample mean has std 0.0032, the sample variance std 0.0045; 5-sigma bounds.
    let n = Double(a.count)
    let mean = a.reduce(0) { $0 + Double($1) } / n
    let variance = a.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
    XCTAssertEqual(mean, 0, accuracy: 0.016)
    XCTAssertEqual(variance, 1, accuracy: 0.023)
    XCTAssertEqual(try MLXRandom.split(key: key, into: 3).shape, [3, 2])
  }
}
