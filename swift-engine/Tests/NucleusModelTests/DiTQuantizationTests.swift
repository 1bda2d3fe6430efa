import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN
@testable import NucleusModels

/// Quantized transformers against the float one (tiny-a, fp32).
///
/// Bounds: in a group of 32 roughly Gaussian weights the range spans about 4.1 σ, so one quantization step is
/// 4.1 σ / 255 (8-bit) or 4.1 σ / 15 (4-bit). Rounding noise of a step s has RMS s / √12, and MLX's edge snapping
/// lets some values err by up to 1.5 steps, so a quantized layer adds about 0.5 % (8-bit) and up to 11 % (4-bit)
/// relative noise to its output. tiny-a has about 40 quantized layers; independent noise adds in quadrature,
/// √40 ≈ 6.3, giving 3 % (8-bit) and 70 % (4-bit) as bounds for the relative RMS deviation of the final output.
/// (Residual connections damp each block's share, so real deviations sit well below.) 4-bit must also deviate
/// more than 8-bit.
final class DiTQuantizationTests: XCTestCase {
  private func deviation(bits: Int, fixture: DiTCase, reference: MLXArray) throws -> Double {
    let spec = QuantizationSpec(bits: bits, groupSize: 32)
    let model = try fixture.model(plan: NucleusTransformer.quantizationPlan(linear: spec, experts: spec))
    return try difference(fixture.run(model), reference).rms / rms(reference)
  }

  func testEightAndFourBitStayWithinTheirBounds() throws {
    let fixture = try DiTCase("a-fp32")
    let reference = try fixture.run(fixture.model())
    let eight = try deviation(bits: 8, fixture: fixture, reference: reference)
    let four = try deviation(bits: 4, fixture: fixture, reference: reference)
    XCTAssertLessThanOrEqual(eight, ParityBounds.quantized8RelativeRMS, "8-bit relative RMS deviation \(eight)")
    XCTAssertLessThanOrEqual(four, ParityBounds.quantized4RelativeRMS, "4-bit relative RMS deviation \(four)")
    XCTAssertGreaterThan(four, eight)
    XCTAssertGreaterThan(eight, 0, "quantization changed nothing: no layer was quantized")
  }

  func testPreQuantizedFolderMatchesQuantizingAtLoad() throws {
    let fixture = try DiTCase("a-fp32")
    let spec = QuantizationSpec(bits: 4, groupSize: 32)
    let plan = NucleusTransformer.quantizationPlan(linear: spec, experts: spec)
    let source = try ComponentFolder.open(fixture.modelDirectory)
    let arrays = try ComponentLoader(folder: source, plan: plan).load()
    XCTAssertTrue(arrays.keys.contains("transformer_blocks.1.img_mlp.experts.gate_up_proj.scales"))
    XCTAssertFalse(arrays.keys.contains("transformer_blocks.1.img_mlp.gate.scales"), "the router stays dense")

    let target = "/tmp/nucleus-swift-test-\(getpid())-q4-transformer"
    defer { _ = system("rm -rf '\(target)'") }
    try ComponentWriter(maxShardBytes: 100_000).write(
      arrays: arrays, config: try source.config,
      quantization: QuantizationRecord(linear: spec, experts: spec), fileStem: source.fileStem, to: target)

    let atLoad = try fixture.run(fixture.model(plan: plan))
    let preQuantized = try fixture.run(fixture.model(folder: target))
    XCTAssertEqual(try atLoad.bytes(), try preQuantized.bytes())
  }
}
