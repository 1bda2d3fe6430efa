import XCTest

@testable import NucleusEngine

/// Sizes from requests (issue 11, defect 1): shape products and token grids computed without trapping, messages
/// short, small memory amounts readable.
final class RequestBoundsTests: XCTestCase {
  func testShapeProductsThatOverflowAreInvalidArguments() throws {
    for shape in [[2_147_483_647, 2_147_483_647], [65536, 65536, 65536, 65536], [-1, 4], [2_147_483_648], Array(repeating: 2, count: 9)] {
      XCTAssertThrowsError(try TensorBounds.size(of: shape, elementSize: 4, field: "embedding"), "\(shape)") { error in
        guard let error = error as? RPCError else { return XCTFail("\(error)") }
        XCTAssertEqual(error.status, .invalidArgument)
        XCTAssertTrue(error.message.hasPrefix("embedding "), error.message)
        XCTAssertLessThan(error.message.utf8.count, 300)
      }
    }
    // A product that fits in elements but not in bytes.
    XCTAssertThrowsError(try TensorBounds.size(of: [2_147_483_647, 2_147_483_647, 2_147_483_647], elementSize: 1, field: "x"))
    XCTAssertEqual(try TensorBounds.size(of: [3, 5], elementSize: 2, field: "x").bytes, 30)
    XCTAssertEqual(try TensorBounds.size(of: [], elementSize: 4, field: "x").elements, 1)
    XCTAssertEqual(try TensorBounds.size(of: [0, 2_147_483_647], elementSize: 4, field: "x").bytes, 0)
  }

  func testGridsOverflowSafely() {
    XCTAssertNil(TensorBounds.gridTokens(height: 4_294_967_295, width: 4_294_967_295))
    XCTAssertNil(TensorBounds.gridTokens(height: 4_294_967_295, width: 2_147_483_649))
    XCTAssertNil(TensorBounds.gridTokens(height: 0, width: 4))
    XCTAssertEqual(TensorBounds.gridTokens(height: 4_294_967_295, width: 2), 8_589_934_590)
    XCTAssertThrowsError(try TensorBounds.checkGrid(height: 4_294_967_295, width: 4_294_967_295))
  }

  func testMemoryEstimatesSaturateInsteadOfTrapping() {
    XCTAssertEqual(MemoryBudget.product(1 << 40, 1 << 40), Int.max)
    XCTAssertEqual(MemoryBudget.sum(Int.max, 1), Int.max)
    XCTAssertEqual(MemoryBudget.product(3, 4), 12)
  }

  func testSmallAmountsAreNeverZeroOrRoundedUpToTheLimit() {
    XCTAssertEqual(MemoryBudget.gib(1), "1 byte")
    XCTAssertEqual(MemoryBudget.gib(1000), "1000 bytes")
    XCTAssertEqual(MemoryBudget.gib(5 << 10), "5 KiB")
    XCTAssertEqual(MemoryBudget.gib(1_363_149), "1.3 MiB")
    XCTAssertEqual(MemoryBudget.gib(50 << 20), "50 MiB")
    XCTAssertEqual(MemoryBudget.gib(3 << 29), "1.5 GiB")
    XCTAssertEqual(MemoryBudget.gib(64 << 20), "64 MiB")
    XCTAssertEqual(MemoryBudget.gib(900 << 20), "900 MiB")
    XCTAssertEqual(MemoryBudget.distinct(1_100_000_000, 1_090_000_000).0, "1049.0 MiB")
    XCTAssertEqual([MemoryBudget.distinct(2_000_000, 1_000_000).0, MemoryBudget.distinct(2_000_000, 1_000_000).1], ["1.9 MiB", "976 KiB"])
    XCTAssertEqual(MemoryBudget.distinct(1_048_600, 1_048_590).0, "1048600 bytes")
    XCTAssertEqual(MemoryBudget.distinct(1_048_600, 1_048_590).1, "1048590 bytes")
  }

  func testStatusMessagesAreShortened() {
    let (status, message) = RPCError.status(for: RPCError(.invalidArgument, String(repeating: "é", count: 200_000)), method: "/x/Y")
    XCTAssertEqual(status, .invalidArgument)
    XCTAssertLessThanOrEqual(message.utf8.count, RPCError.maxMessageBytes)
    XCTAssertTrue(message.hasSuffix("more bytes)"), message)
  }
}
