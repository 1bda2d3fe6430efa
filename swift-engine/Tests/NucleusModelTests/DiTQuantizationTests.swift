import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN
@testable import NucleusModels

/// Quantized transformers against the float one (tiny-a, fp32), with the bounds of ParityBounds: 8-bit within 3 %
/// relative RMS, 4-bit within 51 % and deviating 8.5 to 34 times as much as 8-bit (its steps are 17 times larger).
final class DiTQuantizationTests: XCTestCase {
  private func deviation(bits: Int, fixture: DiTCase, reference: MLXArray) throws -> Double {
    let spec = QuantizationSpec(bits: bits, groupSize: 32)
    let model = try fixture.model(quantize: QuantizationChoice(linear: spec, experts: spec))
    return try difference(fixture.run(model), reference).rms / rms(reference)
  }

  func testEightAndFourBitStayWithinTheirBounds() throws {
    for name in ["a-fp32", "b-fp32-odd"] {
      let fixture = try DiTCase(name)
      let reference = try fixture.run(fixture.model())
      let eight = try deviation(bits: 8, fixture: fixture, reference: reference)
      let four = try deviation(bits: 4, fixture: fixture, reference: reference)
      print("\(name): 8-bit relative RMS deviation \(eight), 4-bit \(four), ratio \(four / eight)")
      XCTAssertGreaterThan(eight, 0, "\(name): quantization changed nothing: no layer was quantized")
      XCTAssertLessThanOrEqual(eight, ParityBounds.quantized8RelativeRMS, "\(name): 8-bit relative RMS deviation \(eight)")
      XCTAssertLessThanOrEqual(four, ParityBounds.quantized4RelativeRMS, "\(name): 4-bit relative RMS deviation \(four)")
      XCTAssertTrue(
        ParityBounds.quantized4Over8Ratio.contains(four / eight),
        "\(name): 4-bit deviation \(four) is \(four / eight) × the 8-bit one (\(eight)); expected \(ParityBounds.quantized4Over8Ratio)")
    }
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
