// `nucleus-bench parity [--fixtures DIR]`: the committed tiny-model fixtures (test/fixtures/{dit,pipeline,text},
// made by tools/reference from diffusers and transformers) run on this binary's backend, checked with the bounds the
// Swift tests use (NucleusModels' ParityBounds). This is how a backend where `swift test` cannot run (CUDA on the
// GPU machine) is checked. One JSON line per case, a summary last; exit status 1 when any case fails.
import Checkpoints
import MLX
import MLXNN
import NucleusModels

enum ParityCommand {
  static let usage = "nucleus-bench parity [--fixtures DIR] [--no-variants]"

  struct Outcome {
    var passed = 0
    var failed = 0
  }

  static func run(_ arguments: [String]) throws -> Bool {
    let options = try Options(arguments, valued: ["--fixtures"], switches: ["--no-variants"])
    // MLX's CUDA backend multiplies float32 in TF32 unless told otherwise; the float32 bounds are for float32.
    setenv("MLX_ENABLE_TF32", "0", 0)
    let root = try fixtureRoot(options.string("--fixtures"))
    emit([
      ("event", .string("config")), ("command", .string("parity")), ("backend", .string(Device.backend)),
      ("device", .string((try? Device.name()) ?? "")), ("mlx_version", .string(Device.mlxVersion)),
      ("fixtures", .string(root)), ("MLX_ENABLE_TF32", .string(environment("MLX_ENABLE_TF32") ?? "")),
    ])
    var outcome = Outcome()
    let cases = Cases(root: root)
    // The default paths first, then every switchable path (attention, expert matmul, quantized linears) on the
    // cases that exercise it, against the same bounds.
    cases.all(&outcome, label: [])
    if !options.has("--no-variants") {
      for attention in AttentionPath.allCases where attention != AttentionPath.current {
        AttentionPath.override = attention
        cases.attentionCases(&outcome, label: [("attention", .string(attention.rawValue))])
        AttentionPath.override = nil
      }
    }
    cases.quantized(&outcome, allPaths: !options.has("--no-variants"))
    emit([
      ("event", .string("parity_summary")), ("backend", .string(Device.backend)), ("passed", .integer(outcome.passed)),
      ("failed", .integer(outcome.failed)), ("pass", .bool(outcome.failed == 0)),
    ])
    return outcome.failed == 0
  }

  /// --fixtures, else $NUCLEUS_FIXTURES, else the kit's fixtures/ ($NUCLEUS_KIT_DIR, or beside bin/), else
  /// test/fixtures under the current folder.
  static func fixtureRoot(_ explicit: String?) throws -> String {
    var candidates: [String] = []
    if let explicit { candidates = [explicit] } else {
      if let value = environment("NUCLEUS_FIXTURES") { candidates.append(value) }
      if let kit = environment("NUCLEUS_KIT_DIR") { candidates.append(kit + "/fixtures") }
      let binary = CommandLine.arguments[0]
      if let slash = binary.lastIndex(of: "/") { candidates.append(String(binary[..<slash]) + "/../fixtures") }
      candidates.append("test/fixtures")
    }
    for candidate in candidates
    where ["dit", "text", "pipeline"].allSatisfy({ access(candidate + "/" + $0, R_OK) == 0 }) {
      return candidate
    }
    throw UsageError(
      "no parity fixtures found (looked in \(candidates.joined(separator: ", "))): pass --fixtures DIR with dit/, text/ and pipeline/ from test/fixtures")
  }
}

/// The fixture cases and their checks; every failure to run is reported as a failed case, never thrown.
struct Cases {
  let root: String

  static let float32DiTCases = ["a-fp32", "a-fp32-batch-masked", "a-fp32-two-timesteps", "b-fp32-odd", "c-fp32-mha"]

  func all(_ outcome: inout ParityCommand.Outcome, label: [(String, JSON)]) {
    for name in Self.float32DiTCases { ditFloat32(name, &outcome, label: label) }
    ditBFloat16(&outcome, label: label)
    textEncoder(&outcome, label: label)
    vae(&outcome, label: label)
  }

  /// The cases whose models run attention: DiT float32 (with and without a mask), DiT bfloat16, the text encoder
  /// (causal + padding mask), the VAE (single-head over every pixel).
  func attentionCases(_ outcome: inout ParityCommand.Outcome, label: [(String, JSON)]) {
    ditFloat32("a-fp32", &outcome, label: label)
    ditFloat32("a-fp32-batch-masked", &outcome, label: label)
    ditBFloat16(&outcome, label: label)
    textEncoder(&outcome, label: label)
    vae(&outcome, label: label)
  }

  // MARK: checks

  /// Reports one case; `check` returns (max error, rms error, scale, bound on max, bound on rms).
  func report(
    _ name: String, _ outcome: inout ParityCommand.Outcome, label: [(String, JSON)],
    _ check: () throws -> (maxError: Double, rmsError: Double, scale: Double, boundMax: Double?, boundRMS: Double?)
  ) {
    do {
      let r = try check()
      let pass = (r.boundMax.map { r.maxError <= $0 } ?? true) && (r.boundRMS.map { r.rmsError <= $0 } ?? true)
        && r.maxError.isFinite
      pass ? (outcome.passed += 1) : (outcome.failed += 1)
      emit([("event", .string("parity")), ("case", .string(name))] + label + [
        ("max_error", .number(r.maxError)), ("rms_error", .number(r.rmsError)), ("reference_rms", .number(r.scale)),
        ("bound_max", r.boundMax.map(JSON.number) ?? .null), ("bound_rms", r.boundRMS.map(JSON.number) ?? .null),
        ("pass", .bool(pass)),
      ])
    } catch {
      outcome.failed += 1
      emit([("event", .string("parity")), ("case", .string(name))] + label + [
        ("pass", .bool(false)), ("message", .string("\(error)")),
      ])
    }
  }

  func ditFloat32(_ name: String, _ outcome: inout ParityCommand.Outcome, label: [(String, JSON)]) {
    report("dit/\(name)", &outcome, label: label) {
      let fixture = try DiTFixture(root: root, name: name)
      let error = try difference(fixture.run(fixture.model()), fixture.expected)
      let scale = try rms(fixture.expected)
      return (error.max, error.rms, scale, ParityBounds.float32Max * scale, nil)
    }
  }

  func ditBFloat16(_ outcome: inout ParityCommand.Outcome, label: [(String, JSON)]) {
    report("dit/a-bf16", &outcome, label: label) {
      let fixture = try DiTFixture(root: root, name: "a-bf16")
      let model = try fixture.model()
      guard model.dtype == .bfloat16 else { throw MLXError("the a-bf16 model loaded as \(model.dtype)") }
      let error = try difference(fixture.run(model), fixture.expected)
      let scale = try rms(fixture.expected)
      return (error.max, error.rms, scale, ParityBounds.bfloat16Max * scale, ParityBounds.bfloat16RMS * scale)
    }
  }

  func textEncoder(_ outcome: inout ParityCommand.Outcome, label: [(String, JSON)]) {
    let folderPath = root + "/text/tiny-encoder/text_encoder"
    for index in [-8, -1, 0, 5, -2] {
      report("text/hidden_\(index)", &outcome, label: label) {
        let fixture = try loadSafetensors(path: root + "/text/encoder-cases.safetensors").arrays
        guard let idsArray = fixture["input_ids"], let maskArray = fixture["attention_mask"],
          let expected = fixture["hidden_\(index)"]
        else { throw MLXError("encoder-cases.safetensors lacks input_ids, attention_mask or hidden_\(index)") }
        let folder = try ComponentFolder.open(folderPath)
        let config = try folder.decodeConfig(TextEncoderConfig.self)
        let depth = try config.hiddenStateIndex(index)
        let (encoder, plan) = try Qwen3TextEncoder.planned(folder, depth: depth, dtype: .float32, storage: .float32)
        try ModelLoader(plan).load()
        let ids = try idsArray.asArray(Int32.self)
        let mask = try maskArray.asArray(Int32.self)
        let length = idsArray.shape[1]
        var worst = (max: 0.0, rms: 0.0, scale: Double.infinity)
        for row in 0..<idsArray.shape[0] {
          let rows = (row * length)..<((row + 1) * length)
          let output = try encoder(tokens: Array(ids[rows]), mask: mask[rows].map { $0 != 0 }, hiddenState: depth)
          let reference = try expected.sliced(axis: 0, row..<(row + 1)).squeezed(axes: [0])
          let error = try difference(output, reference)
          let scale = try rms(reference)
          // The bound is per row: keep the row with the largest error relative to its own bound.
          if error.max / scale > worst.max / worst.scale || worst.scale == .infinity { worst = (error.max, error.rms, scale) }
        }
        return (worst.max, worst.rms, worst.scale, ParityBounds.float32Max * worst.scale, nil)
      }
    }
  }

  func vae(_ outcome: inout ParityCommand.Outcome, label: [(String, JSON)]) {
    report("vae/decode", &outcome, label: label) {
      let fixture = try loadSafetensors(path: root + "/pipeline/vae-decode.safetensors").arrays
      guard let latents = fixture["latents"], let image = fixture["image"], let gridArray = fixture["grid"] else {
        throw MLXError("vae-decode.safetensors lacks latents, image or grid")
      }
      let grid = try gridArray.asArray(Int32.self)
      let decoder = try VAEDecoder.load(root + "/pipeline/tiny/vae", dtype: .float32, storage: .float32)
      let output = try decoder(packed: latents, gridHeight: Int(grid[0]), gridWidth: Int(grid[1]))
      let expected = try image.transposed(0, 2, 3, 1)
      let error = try difference(output, expected)
      let scale = try rms(expected)
      return (error.max, error.rms, scale, ParityBounds.float32Max * scale, nil)
    }
  }

  /// Quantized tiny-a (group 32) against the float model on this backend, for every expert path and quantized
  /// linear kernel; and every path against the first on the same quantized weights (they compute one function).
  func quantized(_ outcome: inout ParityCommand.Outcome, allPaths: Bool) {
    let expertPaths = allPaths ? ExpertMatmulPath.allCases : [ExpertMatmulPath.current(quantized: true)]
    let linearPaths = allPaths ? [false, true] : [QuantizedKernels.dequantizeFirst]
    let defaultLinear = QuantizedKernels.dequantizeFirst
    defer {
      ExpertMatmulPath.override = nil
      QuantizedKernels.dequantizeFirst = defaultLinear
    }
    let fixture: DiTFixture
    let reference: MLXArray
    do {
      fixture = try DiTFixture(root: root, name: "a-fp32")
      reference = try fixture.run(fixture.model())
    } catch {
      report("dit/quantized", &outcome, label: []) { throw error }
      return
    }
    for bits in [8, 4] {
      let spec = QuantizationSpec(bits: bits, groupSize: 32)
      let bound = bits == 8 ? ParityBounds.quantized8RelativeRMS : ParityBounds.quantized4RelativeRMS
      var first: MLXArray?
      for expertPath in expertPaths {
        for dequantize in linearPaths {
          ExpertMatmulPath.override = expertPath
          QuantizedKernels.dequantizeFirst = dequantize
          let label: [(String, JSON)] = [
            ("bits", .integer(bits)), ("expert_path", .string(expertPath.rawValue)),
            ("linear_path", .string(dequantize ? "dequantize" : "native")),
          ]
          var output: MLXArray?
          report("dit/a-fp32-quantized-vs-float", &outcome, label: label) {
            let model = try fixture.model(quantize: QuantizationChoice(linear: spec, experts: spec))
            let result = try fixture.run(model)
            output = result
            let error = try difference(result, reference)
            let scale = try rms(reference)
            return (error.max, error.rms / scale, scale, nil, bound)
          }
          guard let output else { continue }
          if let first {
            report("dit/a-fp32-quantized-paths-agree", &outcome, label: label) {
              let error = try difference(output, first)
              let scale = try rms(first)
              return (error.max, error.rms, scale, ParityBounds.float32Max * scale, nil)
            }
          } else {
            first = output
          }
        }
      }
    }
  }
}

/// A DiT parity case written by tools/reference/make_dit_fixtures.py (the Swift tests read the same files).
struct DiTFixture {
  let latents, text, timesteps, expected: MLXArray
  let mask: MLXArray?
  let gridHeight, gridWidth: Int
  let modelDirectory: String

  init(root: String, name: String) throws {
    let contents = try loadSafetensors(path: "\(root)/dit/\(name).safetensors")
    func array(_ key: String) throws -> MLXArray {
      guard let value = contents.arrays[key] else { throw MLXError("\(name).safetensors has no '\(key)'") }
      return value
    }
    latents = try array("latents")
    text = try array("text")
    mask = try contents.arrays["mask"].map { try $0.asType(.bool) }
    timesteps = try array("timestep")
    expected = try array("output")
    let grid = try array("grid").asArray(Int32.self)
    gridHeight = Int(grid[0])
    gridWidth = Int(grid[1])
    guard let model = contents.metadata["model"] else { throw MLXError("\(name).safetensors names no model") }
    modelDirectory = "\(root)/dit/\(model)/transformer"
  }

  /// The case's model computing in its checkpoint's dtype, optionally quantized at load.
  func model(quantize: QuantizationChoice = QuantizationChoice()) throws -> NucleusTransformer {
    try NucleusTransformer.load(modelDirectory, quantize: quantize)
  }

  func run(_ model: NucleusTransformer) throws -> MLXArray {
    let batch = latents.shape[0]
    let text = try (0..<batch).map { sample in
      try model.prepareText(
        embedding: self.text.sliced(axis: 0, sample..<(sample + 1)).squeezed(axes: [0]),
        mask: mask.map { try $0.sliced(axis: 0, sample..<(sample + 1)).squeezed(axes: [0]) },
        gridHeight: gridHeight, gridWidth: gridWidth)
    }
    return try model(latents: latents, gridHeight: gridHeight, gridWidth: gridWidth, timesteps: timesteps, text: text)
  }
}

/// Root mean square in float64 (on the host: the fixtures are tiny).
func rms(_ a: MLXArray) throws -> Double {
  let values = try a.asType(.float32).asArray(Float.self)
  return (values.reduce(0) { $0 + Double($1) * Double($1) } / Double(values.count)).squareRoot()
}

/// (max |a − b|, rms(a − b)) in float64; NaN counts as infinite; shapes must match.
func difference(_ a: MLXArray, _ b: MLXArray) throws -> (max: Double, rms: Double) {
  guard a.shape == b.shape else { throw MLXError("shape \(a.shape) against the reference's \(b.shape)") }
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
