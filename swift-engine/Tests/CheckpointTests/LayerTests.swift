import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN

final class LayerTests: XCTestCase {
  let forward = try! loadSafetensors(path: Paths.tinyMLP + "/forward.safetensors").arrays

  private func store(dtype: DType = .float32) throws -> WeightStore {
    WeightStore(try ComponentLoader(folder: ComponentFolder.open(Paths.tinyMLP + "/sharded")).load(), computeDType: dtype)
  }

  func testLayersFromACheckpointMatchPyTorch() throws {
    let weights = try store()
    let layer0 = try Linear(weights.scope("layers.0"), inputDimensions: 128, outputDimensions: 64, bias: true)
    let layer1 = try Linear(weights.scope("layers.1"), inputDimensions: 64, outputDimensions: 32, bias: false)
    let norm = try RMSNorm(weights.scope("norm"), dimensions: 32, eps: 1e-6)
    let experts = ExpertWeights.dense(try weights.take("experts.gate_up_proj", shape: [4, 64, 96]))
    try weights.finish()

    let hidden = try silu(layer0(forward["x"]!))
    try assertClose(hidden, forward["hidden"]!, atol: 1e-5, rtol: 1e-5, "hidden")
    try assertClose(norm(layer1(hidden)), forward["y"]!, atol: 1e-5, rtol: 1e-5, "output")
    try assertClose(experts.apply(forward["expert_x"]!), forward["expert_y"]!, atol: 1e-5, rtol: 1e-5, "experts")
  }

  func testWeightErrorsNameEveryMissingUnexpectedAndMismatchedKey() throws {
    let weights = try store()
    _ = try Linear(weights.scope("layers.0"), inputDimensions: 128, outputDimensions: 64, bias: true)
    _ = try Linear(weights.scope("layers.1"), inputDimensions: 64, outputDimensions: 48, bias: true)
    _ = try RMSNorm(weights.scope("final_norm"), dimensions: 32, eps: 1e-6)
    XCTAssertThrowsError(try weights.finish()) { error in
      guard let problem = error as? WeightLoadingError else { return XCTFail("\(error)") }
      XCTAssertEqual(problem.missing, ["final_norm.weight", "layers.1.bias"])
      XCTAssertEqual(problem.unexpected, ["experts.gate_up_proj", "norm.weight"])
      XCTAssertEqual(problem.mismatched, ["layers.1.weight has shape [32, 64], the model expects [48, 64]"])
      XCTAssertTrue(problem.description.contains("final_norm.weight"))
    }
  }

  func testLayerNormConvAndEmbeddingLayers() throws {
    let x = try MLXArray((0..<24).map { Float($0) * 0.25 - 2 }, [2, 3, 4])
    let plain = LayerNorm(eps: 1e-6)
    let normed = try plain(x).asArray(Float.self)
    for row in 0..<6 {
      let values = normed[(row * 4)..<(row * 4 + 4)].map(Double.init)
      XCTAssertEqual(values.reduce(0, +) / 4, 0, accuracy: 1e-5)
      XCTAssertEqual(values.map { $0 * $0 }.reduce(0, +) / 4, 1, accuracy: 1e-3)
    }
    let table = Embedding(weight: try MLXArray((0..<12).map(Float.init), [4, 3]))
    XCTAssertEqual(try table(MLXArray([3, 1] as [Int32], [2])).asArray(Float.self), [9, 10, 11, 3, 4, 5])
    // A 1x1 convolution is a per-pixel matmul: weight OHWI [2, 1, 1, 3].
    let conv = Conv2d(weight: try MLXArray([1, 0, 0, 0, 1, 1] as [Float], [2, 1, 1, 3]), bias: try MLXArray([0, 10] as [Float], [2]))
    let image = try MLXArray([1, 2, 3, 4, 5, 6] as [Float], [1, 1, 2, 3])
    XCTAssertEqual(try conv(image).asArray(Float.self), [1, 15, 4, 21])
    let oihw = try MLXArray((0..<24).map(Float.init), [2, 3, 2, 2])
    XCTAssertEqual(try Conv2d.fromPyTorch(weight: oihw).shape, [2, 2, 2, 3])
  }
}
