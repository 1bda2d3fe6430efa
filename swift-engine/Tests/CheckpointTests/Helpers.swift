import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN

enum Paths {
  static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path
  static let tinyMLP = repoRoot + "/test/fixtures/checkpoints/tiny-mlp"

  /// A fresh empty folder under the system temporary directory, removed by the caller's teardown.
  static func temporaryFolder(_ name: String) -> String {
    let path = "/tmp/nucleus-swift-test-\(getpid())-\(name)"
    _ = system("rm -rf '\(path)'")
    mkdir(path, 0o755)
    return path
  }

  static func copyFolder(_ source: String, to destination: String) {
    _ = system("rm -rf '\(destination)' && cp -r '\(source)' '\(destination)'")
  }
}

func assertClose(
  _ actual: MLXArray, _ expected: MLXArray, atol: Float, rtol: Float = 0, _ message: String = "",
  file: StaticString = #filePath, line: UInt = #line
) throws {
  XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
  let a = try actual.asType(.float32).asArray(Float.self)
  let e = try expected.asType(.float32).asArray(Float.self)
  for index in a.indices where !(Swift.abs(a[index] - e[index]) <= atol + rtol * Swift.abs(e[index])) {
    XCTFail("\(message): element \(index) is \(a[index]), expected \(e[index])", file: file, line: line)
    return
  }
}

/// The module tools/reference/make_checkpoint_fixtures.py saves as tiny-mlp: two linears, a norm and an expert
/// stack. `layers.1` is declared unquantizable to exercise a layer that refuses quantization.
final class TinyMLP: Module {
  let layer0 = Linear(128, 64)
  let layer1: Linear
  let norm: RMSNorm
  let experts: ExpertLinear?
  let normName: String

  init(layer1Outputs: Int = 32, layer1Bias: Bool = false, normName: String = "norm", experts: Bool = true) {
    layer1 = Linear(64, layer1Outputs, bias: layer1Bias, quantizable: false)
    norm = RMSNorm(dimensions: 32, eps: 1e-6)
    self.normName = normName
    self.experts = experts ? ExpertLinear(experts: 4, input: 64, output: 96) : nil
  }

  var items: [(String, ModuleItem)] {
    [("layers.0", .module(layer0)), ("layers.1", .module(layer1)), (normName, .module(norm))]
      + (experts.map { [("experts.gate_up_proj", .module($0))] } ?? [])
  }

  static func load(
    _ directory: String, storage: DType? = nil, quantize: QuantizationChoice = QuantizationChoice(),
    isUnused: @escaping (String) -> Bool = { _ in false }, module: TinyMLP = TinyMLP()
  ) throws -> TinyMLP {
    try ModelLoader(LoadPlan(module: module, folder: ComponentFolder.open(directory), isUnused: isUnused, storageDType: storage, quantize: quantize)).load()
    return module
  }
}
