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
    let model = try fixture.model(quantize: QuantizationChoice(linear: spec, experts: spec))
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
    let choice = QuantizationChoice(linear: spec, experts: spec)
    let source = try ComponentFolder.open(fixture.modelDirectory)
    let (_, plan) = try NucleusTransformer.planned(source, dtype: .float32, quantize: choice)
    let quantizedPaths = plan.items.filter { $0.quantizeWith != nil }.map(\.path)
    XCTAssertTrue(quantizedPaths.contains("transformer_blocks.1.img_mlp.experts.gate_up_proj"))
    XCTAssertFalse(quantizedPaths.contains("transformer_blocks.1.img_mlp.gate.weight"), "the router stays dense")
    XCTAssertFalse(quantizedPaths.contains("img_in.weight"), "the input projection stays dense")

    let target = "/tmp/nucleus-swift-test-\(getpid())-q4-transformer"
    try? FolderStaging.removeTree(target)
    defer { try? FolderStaging.removeTree(target) }
    XCTAssertEqual(mkdir(target, 0o755), 0)
    var converter = ComponentConverter()
    converter.maxShardBytes = 100_000
    converter.sliceBytes = 4096  // many slices per tensor: joining them must give the same bits
    try converter.convert(plan, to: target)
    let written = try ComponentFolder.open(target)
    XCTAssertGreaterThan(written.shards.count, 1, "sharded with an index")
    XCTAssertEqual(try written.recordedQuantization(), QuantizationRecord(linear: spec, experts: spec))

    let atLoad = try fixture.run(fixture.model(quantize: choice))
    let preQuantized = try fixture.run(fixture.model(folder: target))
    XCTAssertEqual(try atLoad.bytes(), try preQuantized.bytes())
    XCTAssertThrowsError(try fixture.model(quantize: choice, folder: target)) {
      XCTAssertTrue("\($0)".contains("already quantized"), "\($0)")
    }
  }
}
