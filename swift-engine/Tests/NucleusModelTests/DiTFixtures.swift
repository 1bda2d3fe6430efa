import XCTest

@testable import Checkpoints
@testable import MLX
@testable import MLXNN
@testable import NucleusModels

/// A parity case written by tools/reference/make_dit_fixtures.py: inputs, diffusers' output, and its model.
struct DiTCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("test/fixtures/dit").path

  let latents: MLXArray
  let text: MLXArray
  let mask: MLXArray?
  let timesteps: MLXArray
  let expected: MLXArray
  let gridHeight: Int
  let gridWidth: Int
  let modelDirectory: String

  init(_ name: String) throws {
    let contents = try loadSafetensors(path: "\(Self.root)/\(name).safetensors")
    latents = contents.arrays["latents"]!
    text = contents.arrays["text"]!
    mask = try contents.arrays["mask"].map { try $0.asType(.bool) }
    timesteps = contents.arrays["timestep"]!
    expected = contents.arrays["output"]!
    let grid = try contents.arrays["grid"]!.asArray(Int32.self)
    gridHeight = Int(grid[0])
    gridWidth = Int(grid[1])
    modelDirectory = "\(Self.root)/\(contents.metadata["model"]!)/transformer"
  }

  var batch: Int { latents.shape[0] }

  /// Loads the case's model, optionally quantizing at load.
  func model(dtype: DType? = nil, quantize: QuantizationChoice = QuantizationChoice(), folder: String? = nil) throws
    -> NucleusTransformer
  {
    try loadTransformer(folder ?? modelDirectory, dtype: dtype, quantize: quantize)
  }

  func conditionings(_ model: NucleusTransformer, samples: Range<Int>? = nil) throws -> [TextConditioning] {
    try (samples ?? 0..<batch).map { sample in
      try model.prepareText(
        embedding: text.sliced(axis: 0, sample..<(sample + 1)).squeezed(axes: [0]),
        mask: mask.map { try $0.sliced(axis: 0, sample..<(sample + 1)).squeezed(axes: [0]) },
        gridHeight: gridHeight, gridWidth: gridWidth)
    }
  }

  func run(_ model: NucleusTransformer, samples: Range<Int>? = nil) throws -> MLXArray {
    let range = samples ?? 0..<batch
    return try model(
      latents: latents.sliced(axis: 0, range), gridHeight: gridHeight, gridWidth: gridWidth,
      timesteps: timesteps.sliced(axis: 0, range), text: conditionings(model, samples: range))
  }
}

/// A transformer folder loaded to compute in `dtype` (default: the checkpoint's), weights stored in that dtype too.
func loadTransformer(_ directory: String, dtype: DType? = nil, quantize: QuantizationChoice = QuantizationChoice()) throws
  -> NucleusTransformer
{
  try NucleusTransformer.load(directory, dtype: dtype, storage: dtype, quantize: quantize)
}

/// Root mean square of an array, in float64.
func rms(_ a: MLXArray) throws -> Double {
  let values = try a.asType(.float32).asArray(Float.self)
  return (values.reduce(0) { $0 + Double($1) * Double($1) } / Double(values.count)).squareRoot()
}

/// (max |a − b|, rms(a − b)) in float64.
func difference(_ a: MLXArray, _ b: MLXArray) throws -> (max: Double, rms: Double) {
  XCTAssertEqual(a.shape, b.shape)
  let x = try a.asType(.float32).asArray(Float.self)
  let y = try b.asType(.float32).asArray(Float.self)
  var worst = 0.0
  var squares = 0.0
  for (p, q) in zip(x, y) {
    let d = Swift.abs(Double(p) - Double(q))
    worst = Swift.max(worst, d.isNaN ? .infinity : d)
    squares += d * d
  }
  return (worst, (squares / Double(x.count)).squareRoot())
}
