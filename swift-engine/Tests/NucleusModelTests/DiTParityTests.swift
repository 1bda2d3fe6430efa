import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN
@testable import NucleusModels

/// The transformer against diffusers' NucleusMoEImageTransformer2DModel on tiny random models.
final class DiTParityTests: XCTestCase {
  /// fp32: max |ours − diffusers| ≤ 1e-4 × RMS(diffusers' output).
  func testFloat32ParityOnEveryCase() throws {
    for name in ["a-fp32", "a-fp32-batch-masked", "a-fp32-two-timesteps", "b-fp32-odd", "c-fp32-mha"] {
      let fixture = try DiTCase(name)
      let output = try fixture.run(fixture.model())
      let bound = ParityBounds.float32Max * (try rms(fixture.expected))
      let error = try difference(output, fixture.expected)
      XCTAssertLessThanOrEqual(error.max, bound, "\(name): max error \(error.max) > \(bound)")
    }
  }

  /// bf16: every op rounds to 8 mantissa bits (relative 2⁻⁹ ≈ 0.2 %); along the ~60 rounded stages of the
  /// residual path such differences add up like a random walk (√60 · 0.2 % ≈ 1.5 %), and a bf16 tie in the
  /// router can send a token to a different expert. Bound: RMS(ours − diffusers) ≤ 3 % and max ≤ 25 % of
  /// RMS(output).
  func testBFloat16ParityWithinRoundingBounds() throws {
    let fixture = try DiTCase("a-bf16")
    let model = try fixture.model()
    XCTAssertEqual(model.dtype, .bfloat16)
    let output = try fixture.run(model)
    XCTAssertEqual(output.dtype, .bfloat16)
    let scale = try rms(fixture.expected)
    let error = try difference(output, fixture.expected)
    XCTAssertLessThanOrEqual(error.rms, ParityBounds.bfloat16RMS * scale, "rms error \(error.rms)")
    XCTAssertLessThanOrEqual(error.max, ParityBounds.bfloat16Max * scale, "max error \(error.max)")
  }

  func testBatchOfTwoEqualsTwoSingleCalls() throws {
    let fixture = try DiTCase("a-fp32-batch-masked")
    let model = try fixture.model()
    let together = try fixture.run(model)
    let first = try fixture.run(model, samples: 0..<1)
    let second = try fixture.run(model, samples: 1..<2)
    let separate = try concatenated([first, second], axis: 0)
    let error = try difference(together, separate)
    XCTAssertLessThanOrEqual(error.max, 1e-5 * (try rms(together)), "batching changed the result by \(error.max)")
  }

  func testCachedTextConditioningGivesIdenticalOutputsAcrossSteps() throws {
    let fixture = try DiTCase("a-fp32")
    let model = try fixture.model()
    let cached = try fixture.conditionings(model)
    try eval(cached.flatMap(\.arrays))
    for sigma in [0.9, 0.5, 0.1] as [Float] {
      let timesteps = try MLXArray([sigma], [1])
      let reused = try model(
        latents: fixture.latents, gridHeight: fixture.gridHeight, gridWidth: fixture.gridWidth, timesteps: timesteps,
        text: cached)
      let fresh = try model(
        latents: fixture.latents, gridHeight: fixture.gridHeight, gridWidth: fixture.gridWidth, timesteps: timesteps,
        text: fixture.conditionings(model))
      XCTAssertEqual(try reused.bytes(), try fresh.bytes(), "sigma \(sigma)")
    }
    assertThrows(
      try model(
        latents: fixture.latents.sliced(axis: 1, 0..<16), gridHeight: 4, gridWidth: 4, timesteps: fixture.timesteps,
        text: cached), kind: .invalidInput, "prepared for another grid size: prepare it for 4×4")
  }

  func testWrongSizesAreErrors() throws {
    let fixture = try DiTCase("a-fp32")
    let model = try fixture.model()
    assertThrows(
      try model(
        latents: fixture.latents, gridHeight: fixture.gridHeight, gridWidth: fixture.gridWidth,
        timesteps: fixture.timesteps, text: []), kind: .invalidInput, "0 text conditionings for a batch of 1")
    assertThrows(
      try model(
        latents: fixture.latents, gridHeight: fixture.gridHeight + 1, gridWidth: fixture.gridWidth,
        timesteps: fixture.timesteps, text: fixture.conditionings(model)),
      kind: .invalidInput, "a 7×10 grid does not hold 60 tokens")
    assertThrows(try loadTransformer(DiTCase.root + "/nowhere"), kind: .notFound, "/nowhere is not a folder: expected a checkpoint component folder")
  }
}

/// The expression throws a classified error of `kind` whose message contains `message` (any other error, or none,
/// fails: a crash-free path that fails for the wrong reason is not the path under test).
func assertThrows<T>(
  _ expression: @autoclosure () throws -> T, kind: FailureKind, _ message: String, file: StaticString = #filePath,
  line: UInt = #line
) {
  XCTAssertThrowsError(try expression(), file: file, line: line) { error in
    guard let classified = error as? ClassifiedError else {
      return XCTFail("\(type(of: error)): \(error) is not a classified error", file: file, line: line)
    }
    XCTAssertEqual(classified.kind, kind, "\(error)", file: file, line: line)
    XCTAssertTrue(classified.message.contains(message), "'\(classified.message)' does not say '\(message)'", file: file, line: line)
  }
}
