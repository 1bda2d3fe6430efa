import XCTest

@testable import MLX
@testable import NucleusEngine

/// The finiteness check the engine runs on request and response tensors in place of an MLX reduction: every NaN
/// and infinity found wherever it sits (block boundaries, the last element, an odd address), and no finite value
/// taken for one (the largest finite values and subnormals have exponents next to the all-ones one), in every CPU
/// kernel variant this machine runs.
final class FiniteBytesTests: XCTestCase {
  private func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

  /// The answer of every variant; they must agree (a disagreement fails the test and the answer is nil).
  private func finite(_ raw: [UInt8], _ dtype: DType, shiftedBy shift: Int = 0, line: UInt = #line) -> Bool? {
    let padded = [UInt8](repeating: 0, count: shift) + raw
    let answers = CPUKernels.supported.map { variant in
      try! CPUKernels.with(variant) {
        padded.withUnsafeBytes { FloatBytes.allFinite(UnsafeRawBufferPointer(rebasing: $0[shift...]), dtype: dtype) }
      }
    }
    guard Set(answers).count == 1 else {
      XCTFail("variants \(CPUKernels.supported) disagree: \(answers)", line: line)
      return nil
    }
    return answers[0]
  }

  func testFloat32FindsEveryNonFiniteValueWhereverItIs() {
    let count = 3 * 4096 + 5
    let ordinary = (0..<count).map { Float($0 % 97) * 0.25 - 12 }
    XCTAssertEqual(true, finite(bytes(ordinary), .float32))
    XCTAssertEqual(true, finite(bytes([Float.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 0, -0.0]), .float32))
    for position in [0, 4095, 4096, 8191, count - 1] {
      for bad in [Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7fc0_0001), Float(bitPattern: 0xff80_0001)] {
        var values = ordinary
        values[position] = bad
        XCTAssertEqual(false, finite(bytes(values), .float32), "\(bad) at \(position)")
        XCTAssertEqual(false, finite(bytes(values), .float32, shiftedBy: 1), "\(bad) at \(position), odd address")
      }
    }
  }

  func testHalfWidthFormatsUseTheirOwnExponents() {
    // bfloat16: exponent bits 0x7f80; float16: 0x7c00. 0x7f7f is bfloat16's largest finite value; 0x7bff float16's.
    let bfloat: [UInt16] = [0x3f80, 0x7f7f, 0xff7f, 0x0001, 0x7c00]
    XCTAssertEqual(true, finite(bytes(bfloat), .bfloat16))
    XCTAssertEqual(false, finite(bytes(bfloat + [0x7f80]), .bfloat16))
    XCTAssertEqual(false, finite(bytes(bfloat + [0xffc1]), .bfloat16))
    let half: [UInt16] = [0x3c00, 0x7bff, 0xfbff, 0x0001, 0x7b80]
    XCTAssertEqual(true, finite(bytes(half), .float16))
    XCTAssertEqual(false, finite(bytes(half + [0x7c00]), .float16))
    XCTAssertEqual(false, finite(bytes([0xfe01] + half), .float16, shiftedBy: 1))
  }

  func testIntegerTensorsAreAlwaysFinite() {
    XCTAssertEqual(true, finite(bytes([UInt32(0x7f80_0000), 0xffff_ffff]), .uint32))
    XCTAssertEqual(true, finite([0xff, 0xff], .uint8))
  }
}
