import XCTest

@testable import MLX

/// bfloat16 → float32 on our threads (weights kept in bf16 on the CPU backend are widened every forward): a
/// bfloat16 is the top 16 bits of a float32, so the expected float32 bits are the bf16 bits shifted up by 16.
final class WidenBFloat16Tests: XCTestCase {
  private func bfloat16(_ bits: [UInt16], _ shape: [Int]) throws -> MLXArray {
    try bits.withUnsafeBytes { try MLXArray(bytes: $0, dtype: .bfloat16, shape: shape) }
  }

  private func float32Bits(_ array: MLXArray) throws -> [UInt32] {
    try array.asArray(Float.self).map(\.bitPattern)
  }

  func testSpecialValuesWidenExactlyInEveryVariant() throws {
    // 1, -2, 3.140625, the largest finite, the smallest normal, a subnormal, -0, +inf, -inf, a quiet and a
    // signalling NaN.
    let bits: [UInt16] = [0x3F80, 0xC000, 0x4049, 0x7F7F, 0x0080, 0x0001, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x7F81]
    for variant in CPUKernels.supported {
      try CPUKernels.with(variant) {
        let x = try bfloat16(bits, [bits.count])
        try eval(x)
        XCTAssertEqual(try float32Bits(x.asType(.float32)), bits.map { UInt32($0) << 16 }, variant)
      }
    }
  }

  func testLargeArraysSplitOverThreadsMatchTheShift() throws {
    // More than one piece of work per thread (the kernel splits at 65,536 elements), an odd total, two axes.
    let count = 7 * 113_359  // 793,513: not a multiple of any piece size
    var state: UInt32 = 12_345
    let bits: [UInt16] = (0..<count).map { _ in
      state = state &* 1_664_525 &+ 1_013_904_223
      return UInt16(truncatingIfNeeded: state >> 16)
    }
    let x = try bfloat16(bits, [7, count / 7])
    try eval(x)
    for variant in CPUKernels.supported {
      try CPUKernels.with(variant) {
        XCTAssertEqual(try float32Bits(x.asType(.float32)), bits.map { UInt32($0) << 16 }, variant)
      }
    }
  }

  func testViewsAndLazyInputsStillWiden() throws {
    let x = try bfloat16([0x3F80, 0x4000, 0x4040, 0x4080, 0x40A0, 0x40C0], [2, 3])
    let transposed = try x.transposed(1, 0)  // not row-contiguous: MLX's cast
    XCTAssertEqual(try transposed.asType(.float32).asArray(Float.self), [1, 4, 2, 5, 3, 6])
    let lazy = try x * MLXArray.scalar(2, dtype: .bfloat16)  // not computed yet: MLX's cast
    XCTAssertEqual(try lazy.asType(.float32).asArray(Float.self), [2, 4, 6, 8, 10, 12])
  }
}
