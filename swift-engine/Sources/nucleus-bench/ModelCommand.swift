// `nucleus-bench model`: the model at full (or mid) size with random weights made on the device, timed part by
// part. One JSON object per line, printed as each number is known: a run stopped by a timeout keeps what it had.
import Checkpoints
import MLX
import MLXNN
import NucleusModels

enum ModelCommand {
  static let usage = """
    nucleus-bench model [--preset full|mid] [--dtype bfloat16|float32] [--quantize 8|4] [--expert-quantize 8|4]
          [--text-quantize 8|4] [--sizes 512,1024] [--text 128] [--prompt-tokens 100] [--repeats 5] [--warmup 1]
          [--only dit,text,vae] [--expert-paths batched,gather,per_expert] [--attention fused,unfused]
          [--linear-paths native,dequantize] [--sgemm mkl,openblas] [--rounds 1] [--steps 50] [--seed 0]
    """

  struct Settings {
    var preset: Preset
    var dtype: DType
    var linear: QuantizationSpec?
    var experts: QuantizationSpec?
    var text: QuantizationSpec?
    var sizes: [Int]
    var textTokens: Int
    var promptTokens: Int
    var repeats: Int
    var warmup: Int
    var parts: [String]
    var expertPaths: [ExpertMatmulPath]
    var attentionPaths: [AttentionPath]
    var linearPaths: [String]
    /// CPU sgemm providers to compare; nil keeps the engine's choice.
    var sgemmProviders: [String]?
    /// Times every DiT variant runs, one after another, so that variants alternate on a machine whose speed drifts.
    var rounds: Int
    var steps: Int
    var seed: UInt64
  }

  static func parse(_ arguments: [String]) throws -> Settings {
    let options = try Options(
      arguments,
      valued: [
        "--preset", "--dtype", "--quantize", "--expert-quantize", "--text-quantize", "--sizes", "--text",
        "--prompt-tokens", "--repeats", "--warmup", "--only", "--expert-paths", "--attention", "--linear-paths",
        "--sgemm", "--rounds", "--steps", "--seed",
      ])
    func bits(_ name: String) throws -> QuantizationSpec? {
      try options.choice(name, ["8", "4"], default: nil).map { QuantizationSpec(bits: Int($0)!, groupSize: 64) }
    }
    let defaultDType: DType = Device.backend == "cpu" ? .float32 : .bfloat16
    let experts = try bits("--expert-quantize")
    let linear = try bits("--quantize")
    let defaultExpertPath = ExpertMatmulPath.current(quantized: experts != nil).rawValue
    return Settings(
      preset: try Preset.named(options.string("--preset") ?? "full"),
      dtype: try options.dtype("--dtype", default: defaultDType),
      linear: linear, experts: experts, text: try bits("--text-quantize"),
      sizes: try options.ints("--sizes", default: [512, 1024], allowed: { $0 >= 16 && $0 % 16 == 0 && $0 <= 4096 },
                              rule: "image sides, multiples of 16 up to 4096"),
      textTokens: try options.int("--text", default: 128, range: 1...1024),
      promptTokens: try options.int("--prompt-tokens", default: 100, range: 1...4096),
      repeats: try options.int("--repeats", default: 5, range: 1...1000),
      warmup: try options.int("--warmup", default: 1, range: 0...100),
      parts: try options.choices("--only", ["dit", "text", "vae"], default: ["dit", "text", "vae"]),
      expertPaths: try options.choices("--expert-paths", ExpertMatmulPath.allCases.map(\.rawValue), default: [defaultExpertPath])
        .map { ExpertMatmulPath(rawValue: $0)! },
      attentionPaths: try options.choices("--attention", AttentionPath.allCases.map(\.rawValue), default: [AttentionPath.current.rawValue])
        .map { AttentionPath(rawValue: $0)! },
      linearPaths: try options.choices(
        "--linear-paths", ["native", "dequantize"], default: [QuantizedKernels.dequantizeFirst ? "dequantize" : "native"]),
      sgemmProviders: options.string("--sgemm") == nil ? nil : try options.choices("--sgemm", ["mkl", "openblas"], default: []),
      rounds: try options.int("--rounds", default: 1, range: 1...100),
      steps: try options.int("--steps", default: 50, range: 1...1000),
      seed: UInt64(try options.int("--seed", default: 0, range: 0...Int(Int32.max))))
  }

  /// False when a part (or a variant) failed; its error line says why.
  static func run(_ arguments: [String]) throws -> Bool {
    let settings = try parse(arguments)
    let started = now()
    emitConfiguration(settings)
    var peak: UInt64 = 0
    var ditSeconds: [Int: Double] = [:]
    var textSeconds: Double?
    var vaeSeconds: [Int: Double] = [:]
    var failed = false

    // Each part runs on its own so that a failure (an op missing on this backend, memory) still leaves the others.
    func part(_ name: String, _ body: () throws -> Void) {
      guard settings.parts.contains(name) else { return }
      do {
        try Memory.resetPeak()
        try body()
        try Memory.clearCache()
        let memory = try Memory.snapshot()
        peak = Swift.max(peak, memory.peakBytes)
        emit([
          ("event", .string("memory")), ("part", .string(name)), ("peak_bytes", .integer(Int(memory.peakBytes))),
          ("active_bytes", .integer(Int(memory.activeBytes))),
        ])
      } catch {
        emit([("event", .string("error")), ("part", .string(name)), ("message", .string("\(error)"))])
        failed = true
        try? Memory.clearCache()
      }
    }

    part("dit") {
      let (seconds, complete) = try benchmarkTransformer(settings)
      ditSeconds = seconds
      failed = failed || !complete
    }
    part("text") { textSeconds = try benchmarkTextEncoder(settings) }
    part("vae") { vaeSeconds = try benchmarkDecoder(settings) }

    // A 50-step CFG image from these parts: the cached-text forward per step, two prompt encodings (prompt and
    // negative prompt), one decode.
    for size in settings.sizes {
      guard let forward = ditSeconds[size], let decode = vaeSeconds[size], let text = textSeconds else { continue }
      emit([
        ("event", .string("image_estimate")), ("size", .integer(size)), ("steps", .integer(settings.steps)),
        ("seconds", .number(Double(settings.steps) * forward + 2 * text + decode)),
        ("formula", .string("steps * dit_forward(warm, fastest) + 2 * text_encoder + vae_decode")),
      ])
    }
    emit([
      ("event", .string("done")), ("seconds", .number(now() - started)), ("peak_bytes", .integer(Int(peak))),
      ("pass", .bool(!failed)),
    ])
    return !failed
  }

  static func emitConfiguration(_ s: Settings) {
    let memory = try? Memory.snapshot()
    func spec(_ q: QuantizationSpec?) -> JSON { q.map { .integer($0.bits) } ?? .null }
    emit([
      ("event", .string("config")), ("command", .string("model")), ("preset", .string(s.preset.name)),
      ("backend", .string(Device.backend)), ("device", .string((try? Device.name()) ?? "")),
      ("device_memory_bytes", .integer(Int(memory?.deviceTotalBytes ?? 0))), ("mlx_version", .string(Device.mlxVersion)),
      ("dtype", .string("\(s.dtype)")), ("quantize", spec(s.linear)), ("expert_quantize", spec(s.experts)),
      ("text_quantize", spec(s.text)), ("sizes", .array(s.sizes.map { .integer($0) })),
      ("text_tokens", .integer(s.textTokens)), ("prompt_tokens", .integer(s.promptTokens)),
      ("repeats", .integer(s.repeats)), ("warmup", .integer(s.warmup)),
      ("expert_paths", .array(s.expertPaths.map { .string($0.rawValue) })),
      ("attention", .array(s.attentionPaths.map { .string($0.rawValue) })),
      ("linear_paths", .array(s.linearPaths.map { .string($0) })),
      ("sgemm", .array((s.sgemmProviders ?? [CPUKernels.sgemm]).map { .string($0) })), ("rounds", .integer(s.rounds)),
      ("env", .object(["MLX_USE_CUDA_GRAPHS", "MLX_ENABLE_TF32", "NUCLEUS_EXPERT_PATH", "NUCLEUS_ATTENTION",
                       "NUCLEUS_QUANTIZED_KERNELS", "NUCLEUS_CPU_SGEMM"].map { ($0, environment($0).map(JSON.string) ?? .null) })),
    ])
  }

  static func emitBuild<M>(_ component: String, _ built: RandomWeights.Built<M>) {
    emit([
      ("event", .string("build")), ("component", .string(component)), ("parameters", .integer(built.parameters)),
      ("bytes", .integer(built.bytes)), ("seconds", .number(built.seconds)),
    ])
  }

  static func timing(_ times: [Double]) -> [(String, JSON)] {
    [
      ("median_s", .number(median(times))), ("min_s", .number(times.first ?? .nan)),
      ("runs_s", .array(times.map { .number($0) })),
    ]
  }

  /// DiT forward, batch 2 (the CFG pair), at every size and variant; returns the fastest warm median per size and
  /// whether every variant ran.
  static func benchmarkTransformer(_ s: Settings) throws -> (fastest: [Int: Double], complete: Bool) {
    let built = try RandomWeights.transformer(
      s.preset.transformer, dtype: s.dtype, linear: s.linear, experts: s.experts, seed: s.seed)
    emitBuild("transformer", built)
    let model = built.model
    let config = s.preset.transformer
    let key = try MLXRandom.key(s.seed &+ 7)
    let keys = try MLXRandom.split(key: key, into: 3)
    let prompt = try MLXRandom.normal([s.textTokens, config.jointAttentionDim], dtype: s.dtype, key: keys.sliced(axis: 0, 0..<1).reshaped(2))
    let negative = try MLXRandom.normal([s.textTokens, config.jointAttentionDim], dtype: s.dtype, key: keys.sliced(axis: 0, 1..<2).reshaped(2))
    var fastest: [Int: Double] = [:]
    var complete = true
    let linearDefault = QuantizedKernels.dequantizeFirst
    defer { QuantizedKernels.dequantizeFirst = linearDefault }
    for size in s.sizes {
      let (h, w) = (size / 16, size / 16)
      let latents = try MLXRandom.normal(
        [2, h * w, config.inChannels], dtype: s.dtype, key: keys.sliced(axis: 0, 2..<3).reshaped(2))
      let timesteps = try MLXArray.full([2], value: 0.5, dtype: .float32)
      try eval(prompt, negative, latents, timesteps)
      func conditionings() throws -> [TextConditioning] {
        try [prompt, negative].map { try model.prepareText(embedding: $0, mask: nil, gridHeight: h, gridWidth: w) }
      }
      let cached = try conditionings()
      try eval(cached.flatMap(\.arrays))
      var reference: MLXArray?
      var first = true
      for round in 1...s.rounds {
        for variant in variants(s) {
          AttentionPath.override = variant.attention
          ExpertMatmulPath.override = variant.expertPath
          QuantizedKernels.dequantizeFirst = variant.linearPath == "dequantize"
          defer {
            AttentionPath.override = nil
            ExpertMatmulPath.override = nil
          }
          var fields: [(String, JSON)] = [
            ("size", .integer(size)), ("grid", .array([.integer(h), .integer(w)])), ("batch", .integer(2)),
            ("text_tokens", .integer(s.textTokens)), ("attention", .string(variant.attention.rawValue)),
            ("expert_path", .string(variant.expertPath.rawValue)), ("linear_path", .string(variant.linearPath)),
            ("sgemm", .string(variant.sgemm ?? CPUKernels.sgemm)),
          ]
          if s.rounds > 1 { fields.append(("round", .integer(round))) }
          do {
            let previousSgemm = CPUKernels.sgemm == "mkl" ? "mkl" : "openblas"
            if let provider = variant.sgemm { try CPUKernels.selectSgemm(provider) }
            defer { if variant.sgemm != nil { try? CPUKernels.selectSgemm(previousSgemm) } }
            let output = try model(latents: latents, gridHeight: h, gridWidth: w, timesteps: timesteps, text: cached)
            try eval(output)
            // Every variant computes the same function: compare with the first one's output on the same inputs.
            var agreement: JSON = .null
            if let reference {
              let difference = try (output.asType(.float32) - reference.asType(.float32))
              let relative = try (square(difference).mean().item(Float.self) / square(reference.asType(.float32)).mean().item(Float.self)).squareRoot()
              agreement = .number(Double(relative))
            } else {
              reference = output
            }
            let warm = try timeRuns(warmup: s.warmup, repeats: s.repeats) {
              [try model(latents: latents, gridHeight: h, gridWidth: w, timesteps: timesteps, text: cached)]
            }
            emit([("event", .string("dit_forward")), ("text_cache", .string("warm"))] + fields + timing(warm) + [
              ("max_abs", .number(try maxAbs(output))), ("rel_rms_vs_first_variant", agreement),
            ])
            fastest[size] = Swift.min(fastest[size] ?? .infinity, median(warm))
            if first {
              let cold = try timeRuns(warmup: 0, repeats: s.repeats) {
                [try model(latents: latents, gridHeight: h, gridWidth: w, timesteps: timesteps, text: conditionings())]
              }
              emit([("event", .string("dit_forward")), ("text_cache", .string("cold"))] + fields + timing(cold))
            }
          } catch {
            emit([("event", .string("error")), ("part", .string("dit_forward"))] + fields + [("message", .string("\(error)"))])
            complete = false
          }
          first = false
        }
      }
    }
    return (fastest, complete)
  }

  struct Variant {
    var attention: AttentionPath
    var expertPath: ExpertMatmulPath
    var linearPath: String
    var sgemm: String?
  }

  /// Every combination of the paths asked for, in the order they run within a round.
  static func variants(_ s: Settings) -> [Variant] {
    var all: [Variant] = []
    for attention in s.attentionPaths {
      for expertPath in s.expertPaths {
        for linearPath in s.linearPaths {
          for sgemm in s.sgemmProviders.map({ $0.map(Optional.some) }) ?? [nil] {
            all.append(Variant(attention: attention, expertPath: expertPath, linearPath: linearPath, sgemm: sgemm))
          }
        }
      }
    }
    return all
  }

  /// The text encoder on a prompt of `promptTokens` random ids, up to hidden state −8.
  static func benchmarkTextEncoder(_ s: Settings) throws -> Double {
    let built = try RandomWeights.textEncoder(
      s.preset.textEncoder, hiddenLayer: -8, dtype: s.dtype, quantization: s.text, seed: s.seed &+ 1)
    emitBuild("text_encoder", built)
    let encoder = built.model
    let vocabulary = s.preset.textEncoder.vocabSize
    var round = 0
    // Different ids every run, as distinct prompts would be.
    let times = try timeRuns(warmup: s.warmup, repeats: s.repeats) {
      round += 1
      let ids = (0..<s.promptTokens).map { Int32(($0 * 7919 + round * 104_729) % (vocabulary - 300)) }
      return [try encoder(tokens: ids, mask: nil, hiddenState: encoder.depth)]
    }
    let sample = try encoder(tokens: (0..<s.promptTokens).map { Int32($0) }, mask: nil, hiddenState: encoder.depth)
    emit([
      ("event", .string("text_encoder")), ("tokens", .integer(s.promptTokens)), ("hidden_state", .integer(-8)),
      ("layers", .integer(encoder.depth)),
    ] + timing(times) + [("max_abs", .number(try maxAbs(sample)))])
    return median(times)
  }

  /// The release-size VAE decoder, one image per size.
  static func benchmarkDecoder(_ s: Settings) throws -> [Int: Double] {
    let built = try RandomWeights.vaeDecoder(s.preset.vae, dtype: s.dtype, seed: s.seed &+ 2)
    emitBuild("vae_decoder", built)
    let decoder = built.model
    var results: [Int: Double] = [:]
    for size in s.sizes {
      let (h, w) = (size / 16, size / 16)
      let packed = try MLXRandom.normal([1, h * w, 4 * s.preset.vae.zDim], dtype: s.dtype, key: MLXRandom.key(s.seed &+ 11))
      try eval(packed)
      var image: MLXArray?
      let times = try timeRuns(warmup: s.warmup, repeats: s.repeats) {
        let decoded = try decoder(packed: packed, gridHeight: h, gridWidth: w)
        image = decoded
        return [try VAEDecoder.toRGB8(decoded)]
      }
      emit([("event", .string("vae_decode")), ("size", .integer(size)), ("batch", .integer(1))] + timing(times) + [
        ("max_abs", .number(try image.map(maxAbs) ?? .nan)),
      ])
      results[size] = median(times)
    }
    return results
  }
}
