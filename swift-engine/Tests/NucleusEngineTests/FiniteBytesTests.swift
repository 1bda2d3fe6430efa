import XCTest

@testable import MLX
@testable import NucleusEngine

/// The finiteness check the engine runs on request and response tensors in place of an MLX reduction: every NaN
/// and infinity found wherever it sits (block boundaries, the last element, an odd address), and no finite value
/// taken for one (the largest finite values and subnormals have exponents next to the all-ones one).
final class FiniteBytesTests: XCTestCase {
  private func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

  private func finite(_ raw: [UInt8], _ dtype: DType, shiftedBy shift: Int = 0) -> Bool {
    let padded = [UInt8](repeating: 0, count: shift) + raw
    return padded.withUnsafeBytes { TensorCoding.allFinite(UnsafeRawBufferPointer(rebasing: $0[shift...]), dtype: dtype) }
  }

  func testFloat32FindsEveryNonFiniteValueWhereverItIs() {
    let count = 3 * 4096 + 5
    let ordinary = (0..<count).map { Float($0 % 97) * 0.25 - 12 }
    XCTAssertTrue(finite(bytes(ordinary), .float32))
    XCTAssertTrue(finite(bytes([Float.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 0, -0.0]), .float32))
    for position in [0, 4095, 4096, 8191, count - 1] {
      for bad in [Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7fc0_0001), Float(bitPattern: 0xff80_0001)] {
        var values = ordinary
        values[position] = bad
        XCTAssertFalse(finite(bytes(values), .float32), "\(bad) at \(position)")
        XCTAssertFalse(finite(bytes(values), .float32, shiftedBy: 1), "\(bad) at \(position), odd address")
      }
    }
  }

  func testHalfWidthFormatsUseTheirOwnExponents() {
    // bfloat16: exponent bits 0x7f80; float16: 0x7c00. 0x7f7f is bfloat16's largest finite value; 0x7bff float16's.
    let bfloat: [UInt16] = [0x3f80, 0x7f7f, 0xff7f, 0x0001, 0x7c00]
    XCTAssertTrue(finite(bytes(bfloat), .bfloat16))
    XCTAssertFalse(finite(bytes(bfloat + [0x7f80]), .bfloat16))
    XCTAssertFalse(finite(bytes(bfloat + [0xffc1]), .bfloat16))
    let half: [UInt16] = [0x3c00, 0x7bff, 0xfbff, 0x0001, 0x7b80]
    XCTAssertTrue(finite(bytes(half), .float16))
    XCTAssertFalse(finite(bytes(half + [0x7c00]), .float16))
    XCTAssertFalse(finite(bytes([0xfe01] + half), .float16, shiftedBy: 1))
  }

  func testIntegerTensorsAreAlwaysFinite() {
    XCTAssertTrue(finite(bytes([UInt32(0x7f80_0000), 0xffff_ffff]), .uint32))
    XCTAssertTrue(finite([0xff, 0xff], .uint8))
  }
}
