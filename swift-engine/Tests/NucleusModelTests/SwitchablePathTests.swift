import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN
@testable import NucleusModels

/// The alternative compute paths that benchmarks switch between (unfused attention, gathered and per-expert expert
/// matmuls) against the same diffusers / transformers fixtures and bounds as the default paths.
final class SwitchablePathTests: XCTestCase {
  override func tearDown() {
    AttentionPath.override = nil
    ExpertMatmulPath.override = nil
    super.tearDown()
  }

  func testUnfusedAttentionMatchesDiffusersAndTransformers() throws {
    AttentionPath.override = .unfused
    for name in ["a-fp32", "a-fp32-batch-masked", "c-fp32-mha"] {
      let fixture = try DiTCase(name)
      let error = try difference(fixture.run(fixture.model()), fixture.expected)
      let bound = ParityBounds.float32Max * (try rms(fixture.expected))
      XCTAssertLessThanOrEqual(error.max, bound, "\(name) with unfused attention: max error \(error.max) > \(bound)")
    }
    // The text encoder's causal mask with a padded row.
    let cases = try loadSafetensors(path: TextEncoderParityTests.root + "/encoder-cases.safetensors").arrays
    let encoder = try TextEncoderParityTests.load(hiddenLayer: -1)
    let ids = try cases["input_ids"]!.asArray(Int32.self)
    let mask = try cases["attention_mask"]!.asArray(Int32.self)
    let length = cases["input_ids"]!.shape[1]
    for row in 0..<2 {
      let rows = (row * length)..<((row + 1) * length)
      let output = try encoder(tokens: Array(ids[rows]), mask: mask[rows].map { $0 != 0 }, hiddenState: encoder.depth)
      let reference = try cases["hidden_-1"]!.sliced(axis: 0, row..<(row + 1)).squeezed(axes: [0])
      let error = try difference(output, reference)
      XCTAssertLessThanOrEqual(error.max, ParityBounds.float32Max * (try rms(reference)), "row \(row): \(error.max)")
    }
  }

  func testEveryExpertPathMatchesDiffusers() throws {
    let fixture = try DiTCase("a-fp32-two-timesteps")
    let model = try fixture.model()
    let bound = ParityBounds.float32Max * (try rms(fixture.expected))
    for path in ExpertMatmulPath.allCases {
      ExpertMatmulPath.override = path
      let error = try difference(fixture.run(model), fixture.expected)
      XCTAssertLessThanOrEqual(error.max, bound, "\(path): max error \(error.max) > \(bound)")
    }
  }

  func testQuantizedExpertPathsComputeTheSameFunction() throws {
    let fixture = try DiTCase("a-fp32")
    let spec = QuantizationSpec(bits: 4, groupSize: 32)
    let model = try fixture.model(quantize: QuantizationChoice(experts: spec))
    ExpertMatmulPath.override = .batched
    let batched = try fixture.run(model)
    XCTAssertGreaterThan(try difference(batched, fixture.expected).rms, 0, "the experts were not quantized")
    for path in [ExpertMatmulPath.gather, .perExpert] {
      ExpertMatmulPath.override = path
      let error = try difference(fixture.run(model), batched)
      XCTAssertLessThanOrEqual(error.max, ParityBounds.float32Max * (try rms(batched)), "\(path): \(error.max)")
    }
  }
}
