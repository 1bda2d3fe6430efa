import Checkpoints
import MLX
import MLXNN
import NucleusModels

/// The one adapter between `nucleus-bench model` and the models: it builds a component's layer tree from its
/// config, fills every parameter the tree declares with random values made by MLX's RNG on the current device
/// (no checkpoint I/O; each evaluated as it is made, so the peak stays near the model's size), and quantizes what
/// the layers allow — the same tree, parameters and quantization rules a checkpoint load uses.
///
/// Scales keep activations O(1) through the stacks: weights normal/√fan_in, biases normal·0.02, norm weights
/// 1 + normal·0.02, embeddings normal·0.02 (the next RMSNorm rescales them).
enum RandomWeights {
  /// A built component with what it holds.
  struct Built<Model> {
    let model: Model
    let parameters: Int
    let bytes: Int
    let seconds: Double
  }

  /// Fills `module`'s parameters; linear weights and expert stacks the layers let quantize are stored quantized.
  static func fill(_ module: any Module, dtype: DType, seed: UInt64, linear: QuantizationSpec?, experts: QuantizationSpec?) throws {
    for (index, (path, parameter)) in module.parameters().enumerated() {
      let key = try MLXRandom.key(seed &* 1_000_003 &+ UInt64(index))
      let noise = try MLXRandom.normal(parameter.shape, dtype: dtype, key: key)
      let value: MLXArray
      if path.hasSuffix("gamma") || (parameter.shape.count == 1 && path.contains("norm")) {
        value = try noise * 0.02 + 1
      } else if parameter.shape.count == 1 || path.contains("embed_tokens") {
        value = try noise * 0.02
      } else {
        // [out, in] linears, OHWI convolutions: fan-in is everything after the first axis; stacked experts
        // [E, in, out] multiply x @ W[e].
        let fanIn = parameter.quantization == .experts ? parameter.shape[1] : parameter.shape.dropFirst().reduce(1, *)
        value = try noise * (1 / Double(fanIn).squareRoot())
      }
      if let kind = parameter.quantization, let spec = kind == .linear ? linear : experts, parameter.canQuantize(spec) {
        let q = try parameter.quantizedForm(of: value, spec)
        try eval([q.weight, q.scales, q.biases])
        parameter.set(q)
      } else {
        try eval(value)
        parameter.set(value)
      }
    }
  }

  /// Refuses to start a component that cannot fit: its dense size in `dtype` against the device's memory (the
  /// machine's RAM on the CPU backend), so a too-large preset is a clear error instead of swapping or a crash.
  static func checkFits(_ component: String, _ module: any Module, dtype: DType) throws {
    let needed = module.parameterCount * dtype.size
    var available = Int((try? Memory.snapshot().deviceTotalBytes) ?? 0)
    if available == 0 { available = sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE)) }
    guard available <= 0 || Double(needed) <= 0.9 * Double(available) else {
      throw MLXError(
        "the \(component) needs about \(needed >> 30) GiB in \(dtype) and this device has \(available >> 30) GiB: "
          + "use --preset mid (or a GPU for --preset full)")
    }
  }

  static func build<M: Module>(
    _ component: String, _ model: M, dtype: DType, seed: UInt64, linear: QuantizationSpec? = nil,
    experts: QuantizationSpec? = nil
  ) throws -> Built<M> {
    try checkFits(component, model, dtype: dtype)
    let start = now()
    try fill(model, dtype: dtype, seed: seed, linear: linear, experts: experts)
    return Built(model: model, parameters: model.parameterCount, bytes: model.nbytes, seconds: now() - start)
  }

  static func transformer(
    _ config: TransformerConfig, dtype: DType, linear: QuantizationSpec?, experts: QuantizationSpec?, seed: UInt64
  ) throws -> Built<NucleusTransformer> {
    try build("transformer", NucleusTransformer(config: config, dtype: dtype), dtype: dtype, seed: seed, linear: linear, experts: experts)
  }

  static func textEncoder(
    _ config: TextEncoderConfig, hiddenLayer: Int, dtype: DType, quantization: QuantizationSpec?, seed: UInt64
  ) throws -> Built<Qwen3TextEncoder> {
    let depth = try config.hiddenStateIndex(hiddenLayer)
    return try build("text encoder", Qwen3TextEncoder(config: config, depth: depth, dtype: dtype), dtype: dtype, seed: seed, linear: quantization)
  }

  static func vaeDecoder(_ config: VAEConfig, dtype: DType, seed: UInt64) throws -> Built<VAEDecoder> {
    try build("VAE decoder", VAEDecoder(config: config, dtype: dtype), dtype: dtype, seed: seed)
  }
}
