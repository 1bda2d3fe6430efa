import XCTest

@testable import Checkpoints
@testable import NucleusModels

/// Configs with sizes that overflow or are absurd (issue 11, defects 1 and 2): refused by validate() before anything
/// is allocated from them, with the field named. Decoding itself must not allocate per layer either.
final class ConfigBoundsTests: XCTestCase {
  private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
    try JSONDecoder().decode(type, from: Data(json.utf8))
  }

  private func assertRefused(_ json: String, mentions field: String, file: StaticString = #filePath, line: UInt = #line) {
    do {
      let config = try decode(TransformerConfig.self, json)
      try config.validate()
      XCTFail("accepted: \(json)", file: file, line: line)
    } catch {
      XCTAssertTrue("\(error)".contains(field), "\(json): \(error)", file: file, line: line)
    }
  }

  func testTransformerSizesThatOverflowAreRefused() {
    assertRefused(#"{"num_layers": -1}"#, mentions: "num_layers")
    assertRefused(#"{"num_layers": 4611686018427387904}"#, mentions: "num_layers")
    assertRefused(#"{"patch_size": 8589934592}"#, mentions: "patch_size")
    assertRefused(#"{"axes_dims_rope": [4611686018427387904, 4611686018427387904, 8]}"#, mentions: "axes_dims_rope")
    assertRefused(#"{"num_attention_heads": 3037000500, "attention_head_dim": 3037000500}"#, mentions: "attention_head_dim")
    assertRefused(#"{"num_attention_heads": 1024, "attention_head_dim": 1024}"#, mentions: "num_attention_heads × attention_head_dim")
    assertRefused(#"{"in_channels": 9223372036854775807}"#, mentions: "in_channels")
    assertRefused(#"{"num_experts": 0}"#, mentions: "num_experts")
    assertRefused(#"{"capacity_factors": [1, 2]}"#, mentions: "capacity_factors")
    assertRefused(#"{"mlp_ratio": 1e300}"#, mentions: "mlp_ratio")
  }

  func testAbsurdLayerCountsAreRefusedBeforeAllocatingPerLayer() throws {
    // diffusers expands one capacity factor to every layer: for 10^9 layers that would be 8 GB before validation.
    for json in [#"{"num_layers": 100000000}"#, #"{"num_layers": 1000000000, "capacity_factors": 2.0}"#] {
      let config = try decode(TransformerConfig.self, json)
      XCTAssertLessThanOrEqual(config.capacityFactors.count, 1024, json)
      XCTAssertThrowsError(try config.validate()) { XCTAssertTrue("\($0)".contains("num_layers"), "\($0)") }
    }
    XCTAssertNoThrow(try decode(TransformerConfig.self, #"{"num_layers": 30, "capacity_factors": 2.0}"#).validate())
  }

  func testTextEncoderSizesAreBounded() throws {
    let cases: [(String, String)] = [
      (#"{"num_key_value_heads": 0}"#, "num_key_value_heads"),
      (#"{"num_attention_heads": 0}"#, "num_attention_heads"),
      (#"{"num_hidden_layers": 9223372036854775807}"#, "num_hidden_layers"),
      (#"{"num_hidden_layers": 1000000000}"#, "num_hidden_layers"),
      (#"{"hidden_size": -8}"#, "hidden_size"),
      (#"{"vocab_size": 4611686018427387904}"#, "vocab_size"),
      (#"{"head_dim": 3}"#, "head_dim"),
    ]
    for (json, field) in cases {
      let config = try decode(TextEncoderConfig.self, json)
      XCTAssertThrowsError(try config.validate(), json) { XCTAssertTrue("\($0)".contains(field), "\(json): \($0)") }
      // The hidden-state lookup validates first: no layer count from the file is used unchecked.
      XCTAssertThrowsError(try config.hiddenStateIndex(-8), json)
    }
  }

  func testVAESizesAreBounded() throws {
    for (json, field) in [
      (#"{"base_dim": 4611686018427387904}"#, "base_dim"), (#"{"z_dim": 0}"#, "z_dim"),
      (#"{"dim_mult": [1, 2, 4611686018427387904]}"#, "dim_mult"), (#"{"num_res_blocks": -1}"#, "num_res_blocks"),
      (#"{"dim_mult": []}"#, "dim_mult"),
    ] {
      let config = try decode(VAEConfig.self, json)
      XCTAssertThrowsError(try config.validate(), json) { XCTAssertTrue("\($0)".contains(field), "\(json): \($0)") }
    }
  }

  func testDecodingErrorsNameTheKeyWithoutQuotingTheFile() {
    XCTAssertEqual(
      describeDecodingProblem(DecodingError.typeMismatch(Int.self, .init(codingPath: [TransformerConfig.CodingKeys.numLayers], debugDescription: "'abc'"))),
      "num_layers has the wrong type (expected an integer)")
    let invalid = describeDecodingProblem(
      DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Unexpected character 'r' around line 1, column 1.")))
    XCTAssertEqual(invalid, "it is not valid JSON (around line 1, column 1)")
  }
}
