import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN

final class LayerTests: XCTestCase {
  let forward = try! loadSafetensors(path: Paths.tinyMLP + "/forward.safetensors").arrays

  func testLayersFromACheckpointMatchPyTorch() throws {
    let model = try TinyMLP.load(Paths.tinyMLP + "/sharded", storage: .float32)
    let hidden = try silu(model.layer0(forward["x"]!))
    try assertClose(hidden, forward["hidden"]!, atol: 1e-5, rtol: 1e-5, "hidden")
    try assertClose(model.norm(model.layer1(hidden)), forward["y"]!, atol: 1e-5, rtol: 1e-5, "output")
    try assertClose(model.experts!(forward["expert_x"]!), forward["expert_y"]!, atol: 1e-5, rtol: 1e-5, "experts")
  }

  func testBf16StorageComputesInTheActivationDtype() throws {
    let stored = try TinyMLP.load(Paths.tinyMLP + "/sharded")
    XCTAssertEqual(stored.layer0.weight.arrays.first?.dtype, .bfloat16, "kept as the checkpoint stores it")
    let wide = try TinyMLP.load(Paths.tinyMLP + "/sharded", storage: .float32)
    XCTAssertEqual(stored.nbytes * 2, wide.nbytes)
    // bf16 → float32 is exact, so computing from bf16 storage equals computing from float32 weights.
    let x = forward["x"]!
    XCTAssertEqual(try stored.layer0(x).bytes(), try wide.layer0(x).bytes())
    XCTAssertEqual(try stored.layer0(x).dtype, .float32)
  }

  func testWeightErrorsNameEveryMissingUnexpectedAndMismatchedKeyBeforeReading() throws {
    let module = TinyMLP(layer1Outputs: 48, layer1Bias: true, normName: "final_norm", experts: false)
    XCTAssertThrowsError(try LoadPlan(module: module, folder: ComponentFolder.open(Paths.tinyMLP + "/sharded"))) { error in
      let message = "\(error)"
      XCTAssertTrue(message.contains("missing 2: final_norm.weight, layers.1.bias"), message)
      XCTAssertTrue(message.contains("unexpected 2: experts.gate_up_proj, norm.weight"), message)
      XCTAssertTrue(message.contains("mismatched 1: layers.1.weight: shape [32, 64], expected [48, 64]"), message)
    }
    XCTAssertTrue(module.parameters().allSatisfy { $0.parameter.nbytes == 0 }, "nothing was read")
  }

  func testLayerNormConvAndEmbeddingLayers() throws {
    let x = try MLXArray((0..<24).map { Float($0) * 0.25 - 2 }, [2, 3, 4])
    let plain = LayerNorm(dimensions: 4, eps: 1e-6, affine: false)
    XCTAssertTrue(plain.parameters().isEmpty)
    let normed = try plain(x).asArray(Float.self)
    for row in 0..<6 {
      let values = normed[(row * 4)..<(row * 4 + 4)].map(Double.init)
      XCTAssertEqual(values.reduce(0, +) / 4, 0, accuracy: 1e-5)
      XCTAssertEqual(values.map { $0 * $0 }.reduce(0, +) / 4, 1, accuracy: 1e-3)
    }
    let table = Embedding(vocabularySize: 4, dimensions: 3)
    table.weight.set(try MLXArray((0..<12).map(Float.init), [4, 3]))
    XCTAssertEqual(try table(MLXArray([3, 1] as [Int32], [2])).asArray(Float.self), [9, 10, 11, 3, 4, 5])
    // A 1x1 convolution is a per-pixel matmul: weight OHWI [2, 1, 1, 3].
    let conv = Conv2d(inputChannels: 3, outputChannels: 2, kernelSize: 1)
    conv.weight.set(try MLXArray([1, 0, 0, 0, 1, 1] as [Float], [2, 1, 1, 3]))
    conv.bias!.set(try MLXArray([0, 10] as [Float], [2]))
    let image = try MLXArray([1, 2, 3, 4, 5, 6] as [Float], [1, 1, 2, 3])
    XCTAssertEqual(try conv(image).asArray(Float.self), [1, 15, 4, 21])
    XCTAssertEqual(conv.weight.checkpointShape, [2, 3, 1, 1], "PyTorch stores OIHW")
    let oihw = try MLXArray((0..<24).map(Float.init), [2, 3, 2, 2])
    let ohwi = try CheckpointLayout.convolutionOIHW.apply(oihw, shape: [2, 2, 2, 3])
    XCTAssertEqual(ohwi.shape, [2, 2, 2, 3])
    XCTAssertEqual(try ohwi.asArray(Float.self)[1], 4, "[o0, h0, w0, i1] = oihw[0, 1, 0, 0]")
  }
}
