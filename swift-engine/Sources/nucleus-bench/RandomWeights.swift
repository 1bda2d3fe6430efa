import Checkpoints
import MLX
import MLXNN
import NucleusModels

/// The one adapter between `nucleus-bench model` and the models' public initializers: it lists every tensor a
/// component's checkpoint holds (release key names and shapes, derived from the config), fills a
/// `[String: MLXArray]` with random values made by MLX's RNG on the current device (no checkpoint I/O), quantizes
/// what the model's quantization plan names (as the loader does, same key names), and calls the initializer.
/// When the initializers change, this file is the place to adapt.
///
/// Scales keep activations O(1) through the stacks: weights normal/√fan_in, biases normal·0.02, norm weights
/// 1 + normal·0.02, embeddings normal·0.02 (the next RMSNorm rescales them).
enum RandomWeights {
  enum Kind {
    case weight(fanIn: Int)
    case bias
    case norm
    case embedding
  }

  struct Tensor {
    let key: String
    let shape: [Int]
    let kind: Kind
  }

  /// A built component with what it holds.
  struct Built<Model> {
    let model: Model
    let parameters: Int
    let bytes: Int
    let seconds: Double
  }

  // MARK: key lists (the release layouts)

  static func transformerTensors(_ config: TransformerConfig) -> [Tensor] {
    let dim = config.innerDim
    let kv = config.keyValueHeads * config.attentionHeadDim
    let head = config.attentionHeadDim
    var list: [Tensor] = []
    func linear(_ name: String, _ input: Int, _ output: Int, bias: Bool) {
      list.append(Tensor(key: name + ".weight", shape: [output, input], kind: .weight(fanIn: input)))
      if bias { list.append(Tensor(key: name + ".bias", shape: [output], kind: .bias)) }
    }
    func norm(_ name: String, _ width: Int) { list.append(Tensor(key: name + ".weight", shape: [width], kind: .norm)) }

    linear("img_in", config.inChannels, dim, bias: true)
    linear("time_text_embed.timestep_embedder.linear_1", dim, 4 * dim, bias: true)
    linear("time_text_embed.timestep_embedder.linear_2", 4 * dim, dim, bias: true)
    norm("time_text_embed.norm", dim)
    norm("txt_norm", config.jointAttentionDim)
    for layer in 0..<config.numLayers {
      let block = "transformer_blocks.\(layer)"
      linear(block + ".img_mod.1", dim, 4 * dim, bias: true)
      linear(block + ".encoder_proj", config.jointAttentionDim, dim, bias: true)
      linear(block + ".attn.to_q", dim, dim, bias: false)
      linear(block + ".attn.to_k", dim, kv, bias: false)
      linear(block + ".attn.to_v", dim, kv, bias: false)
      linear(block + ".attn.to_out.0", dim, dim, bias: false)
      linear(block + ".attn.add_k_proj", dim, kv, bias: false)
      linear(block + ".attn.add_v_proj", dim, kv, bias: false)
      norm(block + ".attn.norm_q", head)
      norm(block + ".attn.norm_k", head)
      norm(block + ".attn.norm_added_k", head)
      if config.isMoE(layer: layer) {
        let (experts, inner) = (config.numExperts, config.moeIntermediateDim)
        linear(block + ".img_mlp.gate", 2 * dim, experts, bias: false)
        list.append(
          Tensor(key: block + ".img_mlp.experts.gate_up_proj", shape: [experts, dim, 2 * inner], kind: .weight(fanIn: dim)))
        list.append(
          Tensor(key: block + ".img_mlp.experts.down_proj", shape: [experts, inner, dim], kind: .weight(fanIn: inner)))
        linear(block + ".img_mlp.shared_expert.net.0.proj", dim, 2 * inner, bias: false)
        linear(block + ".img_mlp.shared_expert.net.2", inner, dim, bias: false)
      } else {
        linear(block + ".img_mlp.net.0.proj", dim, 2 * config.denseInnerDim, bias: false)
        linear(block + ".img_mlp.net.2", config.denseInnerDim, dim, bias: false)
      }
    }
    linear("norm_out.linear", dim, 2 * dim, bias: true)
    linear("proj_out", dim, config.outputChannels, bias: false)
    return list
  }

  /// The language model's tensors up to `depth` layers (what the encoder loads for hidden state `depth`).
  static func textEncoderTensors(_ config: TextEncoderConfig, depth: Int) -> [Tensor] {
    let prefix = config.keyPrefix
    let (d, hd) = (config.hiddenSize, config.headDim)
    var list = [Tensor(key: prefix + "embed_tokens.weight", shape: [config.vocabSize, d], kind: .embedding)]
    for layer in 0..<min(depth, config.numHiddenLayers) {
      let p = prefix + "layers.\(layer)."
      func weight(_ name: String, _ input: Int, _ output: Int) {
        list.append(Tensor(key: p + name + ".weight", shape: [output, input], kind: .weight(fanIn: input)))
      }
      for name in ["input_layernorm", "post_attention_layernorm"] {
        list.append(Tensor(key: p + name + ".weight", shape: [d], kind: .norm))
      }
      weight("self_attn.q_proj", d, config.numAttentionHeads * hd)
      weight("self_attn.k_proj", d, config.numKeyValueHeads * hd)
      weight("self_attn.v_proj", d, config.numKeyValueHeads * hd)
      weight("self_attn.o_proj", config.numAttentionHeads * hd, d)
      list.append(Tensor(key: p + "self_attn.q_norm.weight", shape: [hd], kind: .norm))
      list.append(Tensor(key: p + "self_attn.k_norm.weight", shape: [hd], kind: .norm))
      weight("mlp.gate_proj", d, config.intermediateSize)
      weight("mlp.up_proj", d, config.intermediateSize)
      weight("mlp.down_proj", config.intermediateSize, d)
    }
    if depth == config.numHiddenLayers { list.append(Tensor(key: prefix + "norm.weight", shape: [d], kind: .norm)) }
    return list
  }

  /// The decoder's tensors with 2-D convolutions in PyTorch's OIHW layout (the VAE's sanitizer takes them as the
  /// checkpoint's plain 2-D convs) and channel-norm gammas as [C].
  static func vaeDecoderTensors(_ config: VAEConfig) -> [Tensor] {
    var list: [Tensor] = []
    func conv(_ name: String, _ input: Int, _ output: Int, _ kernel: Int) {
      list.append(
        Tensor(key: name + ".weight", shape: [output, input, kernel, kernel], kind: .weight(fanIn: input * kernel * kernel)))
      list.append(Tensor(key: name + ".bias", shape: [output], kind: .bias))
    }
    func gamma(_ name: String, _ channels: Int) { list.append(Tensor(key: name + ".gamma", shape: [channels], kind: .norm)) }
    func residual(_ name: String, _ input: Int, _ output: Int) {
      gamma(name + ".norm1", input)
      conv(name + ".conv1", input, output, 3)
      gamma(name + ".norm2", output)
      conv(name + ".conv2", output, output, 3)
      if input != output { conv(name + ".conv_shortcut", input, output, 1) }
    }
    let (z, dims) = (config.zDim, config.decoderDims)
    conv("post_quant_conv", z, z, 1)
    conv("decoder.conv_in", z, dims[0], 3)
    residual("decoder.mid_block.resnets.0", dims[0], dims[0])
    gamma("decoder.mid_block.attentions.0.norm", dims[0])
    conv("decoder.mid_block.attentions.0.to_qkv", dims[0], 3 * dims[0], 1)
    conv("decoder.mid_block.attentions.0.proj", dims[0], dims[0], 1)
    residual("decoder.mid_block.resnets.1", dims[0], dims[0])
    for index in 0..<(dims.count - 1) {
      var input = index > 0 ? dims[index] / 2 : dims[index]
      let output = dims[index + 1]
      for r in 0...config.numResBlocks {
        residual("decoder.up_blocks.\(index).resnets.\(r)", input, output)
        input = output
      }
      if index != config.dimMult.count - 1 { conv("decoder.up_blocks.\(index).upsamplers.0.resample.1", output, output / 2, 3) }
    }
    gamma("decoder.norm_out", dims.last!)
    conv("decoder.conv_out", dims.last!, config.inputChannels, 3)
    return list
  }

  // MARK: values

  /// Random values for `tensors` in `dtype`, each evaluated as it is made (bounded peak memory, and the build time
  /// covers the real work); tensors the plan names are stored quantized under the loader's key names.
  static func arrays(_ tensors: [Tensor], dtype: DType, seed: UInt64, plan: QuantizationPlan?) throws
    -> (arrays: [String: MLXArray], parameters: Int)
  {
    var arrays: [String: MLXArray] = [:]
    var parameters = 0
    for (index, tensor) in tensors.enumerated() {
      let key = try MLXRandom.key(seed &* 1_000_003 &+ UInt64(index))
      let noise = try MLXRandom.normal(tensor.shape, dtype: dtype, key: key)
      let value: MLXArray
      switch tensor.kind {
      case .weight(let fanIn): value = try noise * (1 / Double(fanIn).squareRoot())
      case .bias, .embedding: value = try noise * 0.02
      case .norm: value = try noise * 0.02 + 1
      }
      parameters += tensor.shape.reduce(1, *)
      var produced: [(String, MLXArray)] = [(tensor.key, value)]
      if let (kind, spec) = plan?.spec(for: tensor.key, shape: tensor.shape) {
        let q: QuantizedWeight
        switch kind {
        case .linear:
          q = try quantized(value, groupSize: spec.groupSize, bits: spec.bits)
        case .experts:
          guard case .quantized(let stacked) = try ExpertWeights.quantize(value, groupSize: spec.groupSize, bits: spec.bits)
          else { throw MLXError("quantizing \(tensor.key) gave no quantized stack") }
          q = stacked
        }
        let base = tensor.key.hasSuffix(".weight") ? String(tensor.key.dropLast(".weight".count)) : tensor.key
        produced = [(tensor.key, q.weight), (base + ".scales", q.scales), (base + ".biases", q.biases)]
      }
      try eval(produced.map(\.1))
      for (name, array) in produced { arrays[name] = array }
    }
    return (arrays, parameters)
  }

  static func bytes(_ arrays: [String: MLXArray]) -> Int { arrays.values.reduce(0) { $0 + $1.nbytes } }

  /// Refuses to start a component that cannot fit: its dense size in `dtype` against the device's memory (the
  /// machine's RAM on the CPU backend), so a too-large preset is a clear error instead of swapping or a crash.
  static func checkFits(_ component: String, _ tensors: [Tensor], dtype: DType) throws {
    let needed = tensors.reduce(0) { $0 + $1.shape.reduce(1, *) } * dtype.size
    var available = Int((try? Memory.snapshot().deviceTotalBytes) ?? 0)
    if available == 0 { available = sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE)) }
    guard available <= 0 || Double(needed) <= 0.9 * Double(available) else {
      throw MLXError(
        "the \(component) needs about \(needed >> 30) GiB in \(dtype) and this device has \(available >> 30) GiB: "
          + "use --preset mid (or a GPU for --preset full)")
    }
  }

  // MARK: models

  static func transformer(
    _ config: TransformerConfig, dtype: DType, linear: QuantizationSpec?, experts: QuantizationSpec?, seed: UInt64
  ) throws -> Built<NucleusTransformer> {
    try checkFits("transformer", transformerTensors(config), dtype: dtype)
    let start = now()
    let plan = NucleusTransformer.quantizationPlan(linear: linear, experts: experts)
    let (arrays, parameters) = try Self.arrays(transformerTensors(config), dtype: dtype, seed: seed, plan: plan)
    var effective = config
    if !plan.isEmpty { effective.quantization = QuantizationRecord(linear: linear, experts: experts) }
    let model = try NucleusTransformer(config: effective, weights: WeightStore(arrays, computeDType: dtype), dtype: dtype)
    return Built(model: model, parameters: parameters, bytes: bytes(arrays), seconds: now() - start)
  }

  static func textEncoder(
    _ config: TextEncoderConfig, hiddenLayer: Int, dtype: DType, quantization: QuantizationSpec?, seed: UInt64
  ) throws -> Built<Qwen3TextEncoder> {
    let depth = try config.hiddenStateIndex(hiddenLayer)
    try checkFits("text encoder", textEncoderTensors(config, depth: depth), dtype: dtype)
    let start = now()
    let plan = Qwen3TextEncoder.quantizationPlan(quantization)
    let (arrays, parameters) = try Self.arrays(
      textEncoderTensors(config, depth: depth), dtype: dtype, seed: seed, plan: plan)
    var effective = config
    if !plan.isEmpty { effective.quantization = QuantizationRecord(linear: quantization, experts: nil) }
    let model = try Qwen3TextEncoder(
      config: effective, weights: WeightStore(arrays, computeDType: dtype), depth: depth, dtype: dtype)
    return Built(model: model, parameters: parameters, bytes: bytes(arrays), seconds: now() - start)
  }

  static func vaeDecoder(_ config: VAEConfig, dtype: DType, seed: UInt64) throws -> Built<VAEDecoder> {
    let start = now()
    let (arrays, parameters) = try Self.arrays(vaeDecoderTensors(config), dtype: dtype, seed: seed, plan: nil)
    let model = try VAEDecoder(config: config, arrays: arrays, dtype: dtype)
    return Built(model: model, parameters: parameters, bytes: bytes(arrays), seconds: now() - start)
  }
}
