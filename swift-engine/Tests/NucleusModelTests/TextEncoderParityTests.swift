import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN
@testable import NucleusModels

/// The Qwen3-VL text model against transformers' Qwen3VLForConditionalGeneration (tiny random, 10 layers).
final class TextEncoderParityTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("test/fixtures/text").path

  static func load(hiddenLayer: Int) throws -> Qwen3TextEncoder {
    let folder = try ComponentFolder.open(root + "/tiny-encoder/text_encoder")
    let config = try folder.decodeConfig(TextEncoderConfig.self)
    let (model, plan) = try Qwen3TextEncoder.planned(folder, depth: try config.hiddenStateIndex(hiddenLayer), dtype: .float32)
    try ModelLoader(plan).load()
    return model
  }

  /// fp32: max |ours − transformers| ≤ 1e-4 × RMS of the reference hidden state, for every row (one padded).
  func testHiddenStatesMatchTransformers() throws {
    let fixture = try loadSafetensors(path: Self.root + "/encoder-cases.safetensors").arrays
    let ids = try fixture["input_ids"]!.asArray(Int32.self)
    let mask = try fixture["attention_mask"]!.asArray(Int32.self)
    let length = fixture["input_ids"]!.shape[1]
    for index in [-8, -1, 0, 5, -2] {
      let encoder = try Self.load(hiddenLayer: index)
      let expected = fixture["hidden_\(index)"]!
      for row in 0..<2 {
        let rowMask = mask[(row * length)..<((row + 1) * length)].map { $0 != 0 }
        let output = try encoder(
          tokens: Array(ids[(row * length)..<((row + 1) * length)]), mask: rowMask,
          hiddenState: try encoder.config.hiddenStateIndex(index))
        let reference = try expected.sliced(axis: 0, row..<(row + 1)).squeezed(axes: [0])
        let error = try difference(output, reference)
        XCTAssertLessThanOrEqual(error.max, ParityBounds.float32Max * (try rms(reference)), "index \(index) row \(row): \(error.max)")
      }
    }
  }

  func testOnlyTheNeededLayersAreLoaded() throws {
    let folder = try ComponentFolder.open(Self.root + "/tiny-encoder/text_encoder")
    let config = try folder.decodeConfig(TextEncoderConfig.self)
    let (_, plan) = try Qwen3TextEncoder.planned(folder, depth: 3, dtype: .float32)
    let keys = plan.items.map { "model.language_model." + $0.path }
    XCTAssertTrue(keys.contains("model.language_model.embed_tokens.weight"))
    XCTAssertTrue(keys.contains("model.language_model.layers.2.mlp.up_proj.weight"))
    XCTAssertFalse(keys.contains { $0.contains("layers.3.") || $0.contains("visual") || $0.hasPrefix("lm_head") || $0.hasSuffix("language_model.norm.weight") })
    XCTAssertEqual(try Self.load(hiddenLayer: 3).depth, 3)
    XCTAssertThrowsError(try config.hiddenStateIndex(11))
    XCTAssertThrowsError(try config.hiddenStateIndex(-12))
    XCTAssertEqual(try config.hiddenStateIndex(-8), 3)
    XCTAssertEqual(try config.hiddenStateIndex(-1), 10)
  }
}
