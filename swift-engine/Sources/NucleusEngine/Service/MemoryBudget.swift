import Checkpoints
import MLX
import MLXNN
import NucleusModels

/// Refuses work that would not fit under MLX's memory limit, before any of it is computed.
enum MemoryBudget {
  /// The memory limit a request may use: its own limit when it sets one, else MLX's current limit — never more
  /// than the machine's physical memory.
  static func effectiveLimit(requested: UInt64) throws -> Int {
    let physical = Int(clamping: HostInfo.physicalMemoryBytes)
    let current = Int(clamping: try Memory.snapshot().limitBytes)
    let asked = requested > 0 ? Int(clamping: requested) : current
    return physical > 0 ? Swift.min(asked, physical) : asked
  }

  static func available(limit: Int? = nil) throws -> (free: Int, limit: Int) {
    let memory = try Memory.snapshot()
    let limit = limit ?? Int(clamping: memory.limitBytes)
    return (Swift.max(0, limit - Int(clamping: memory.activeBytes)), limit)
  }

  /// "1.5 GiB"; below 1 GiB "850 MiB" (one decimal under 10 MiB), "3 KiB" or "1 byte", so that a small need never
  /// reads as "0 MiB".
  static func gib(_ bytes: Int) -> String {
    if bytes >= 1 << 30 {
      let tenths = Int((Double(bytes) / Double(1 << 30) * 10).rounded())
      return "\(tenths / 10).\(tenths % 10) GiB"
    }
    let mib = Double(bytes) / Double(1 << 20)
    if mib >= 10 { return "\(Int(mib.rounded())) MiB" }
    if mib >= 1 { return "\(Int(mib * 10) / 10).\(Int(mib * 10) % 10) MiB" }
    if bytes >= 1024 { return "\(bytes >> 10) KiB" }
    return bytes == 1 ? "1 byte" : "\(Swift.max(0, bytes)) bytes"
  }

  /// Two amounts that differ, written so that they read differently too ("needs 1.0 GiB but 1.0 GiB are free"
  /// would tell the reader nothing): more digits, down to bytes, until they do.
  static func distinct(_ a: Int, _ b: Int) -> (String, String) {
    let rounded = (gib(a), gib(b))
    guard rounded.0 == rounded.1, a != b else { return rounded }
    let mib = { (value: Int) -> String in
      let tenths = Int((Double(value) / Double(1 << 20) * 10).rounded(.down))
      return "\(tenths / 10).\(tenths % 10) MiB"
    }
    return mib(a) != mib(b) ? (mib(a), mib(b)) : ("\(a) bytes", "\(b) bytes")
  }

  /// The product of sizes, or Int.max when it overflows (an estimate that large is refused by `check`).
  static func product(_ values: Int...) -> Int { Checked.product(values) ?? Int.max }

  static func sum(_ values: Int...) -> Int { values.reduce(0) { Checked.add($0, $1) ?? Int.max } }

  /// Working memory of one forward for `batch` conditionings of up to `textLength` tokens over `tokens` image
  /// tokens: the largest of the per-layer temporaries (attention scores, MoE buffers, feed-forward), plus the
  /// residual stream and its copies. An over-estimate on purpose. Add the weight transient (below).
  static func forwardBytes(config: TransformerConfig, dtype: DType, batch: Int, tokens: Int, textLength: Int) -> Int {
    let element = dtype.size
    let keys = sum(tokens, textLength)
    let attentionScores = product(batch, config.numAttentionHeads, tokens, keys, 4 * 2)
    let largestCapacity = (0..<config.numLayers).map { config.capacity(layer: $0, tokens: tokens) }.max() ?? 1
    let moe = product(config.numExperts, batch, largestCapacity, 2 * config.moeIntermediateDim + 2 * config.innerDim, element * 2)
    let dense = product(batch, tokens, 3 * config.denseInnerDim, element)
    let residual = product(12, batch, tokens, config.innerDim, element)
    return sum(residual, Swift.max(attentionScores, moe, dense))
  }

  /// The forward's working memory plus the largest weight copy among `matmulWeights` (the model's, listed once
  /// per loaded model with `matmulWeights(of:)`).
  static func forwardBytes(model: NucleusTransformer, matmulWeights: [Parameter], batch: Int, tokens: Int, textLength: Int) -> Int {
    sum(
      forwardBytes(config: model.config, dtype: model.dtype, batch: batch, tokens: tokens, textLength: textLength),
      weightTransientBytes(matmulWeights, computeDType: model.dtype))
  }

  /// The parameters `weightTransientBytes` considers: those that may be quantized (matmul weights).
  static func matmulWeights(of model: any Module) -> [Parameter] {
    model.parameters().map(\.parameter).filter { $0.quantization != nil }
  }

  /// Working memory of encoding `tokens` tokens: the residual stream and MLP activations, the attention scores,
  /// and the weight transient.
  static func encodeBytes(config: TextEncoderConfig, dtype: DType, tokens: Int) -> Int {
    let activations = product(tokens, 4 * config.hiddenSize + 3 * config.intermediateSize, dtype.size)
    return sum(activations, product(config.numAttentionHeads, tokens, tokens, 4 * 2))
  }

  /// The largest dense copy of one matmul weight made during a computation: a quantized weight dequantized (CPU
  /// backend), or a weight stored narrower than the computation cast up (expert stacks a few experts at a time).
  static func weightTransientBytes(_ parameters: [Parameter], computeDType: DType) -> Int {
    parameters.reduce(0) { largest, parameter in
      guard parameter.quantization != nil else { return largest }
      switch parameter.value {
      case .quantized where QuantizedKernels.dequantizeFirst, .dense(_) where parameter.storedDType != computeDType:
        return Swift.max(largest, denseCopyBytes(parameter, computeDType: computeDType))
      default:
        return largest
      }
    }
  }

  /// Bytes of the dense copy a layer makes of `parameter` at once (ExpertLinear converts stacks in chunks).
  static func denseCopyBytes(_ parameter: Parameter, computeDType: DType) -> Int {
    let whole = parameter.elementCount * computeDType.size
    guard parameter.quantization == .experts, QuantizedKernels.dequantizeFirst else { return whole }
    let perExpert = Swift.max(1, whole / parameter.shape[0])
    return Swift.min(whole, Swift.max(1, QuantizedKernels.transientBytes / perExpert) * perExpert)
  }

  /// The same, before loading, from a plan.
  static func weightTransientBytes(_ plan: LoadPlan, computeDType: DType) -> Int {
    plan.items.reduce(0) { largest, item in
      guard item.parameter.quantization != nil else { return largest }
      let quantized: Bool
      switch item.source {
      case .quantized: quantized = true
      case .dense: quantized = item.quantizeWith != nil
      }
      let stored = plan.storageDType ?? item.firstLocation.dtype
      guard (quantized && QuantizedKernels.dequantizeFirst) || (!quantized && stored != computeDType) else { return largest }
      return Swift.max(largest, denseCopyBytes(item.parameter, computeDType: computeDType))
    }
  }

  /// Working memory of one VAE decode, calibrated on the CPU backend (decoding block by block): about 11 KiB per
  /// output pixel in float32 (peak 0.70 GiB above the weights at 256², 4× that at 512²), plus the mid-block
  /// attention over every latent pixel where attention is not fused.
  static func decodeBytes(config: VAEConfig, dtype: DType, gridHeight: Int, gridWidth: Int) -> Int {
    let latentPixels = product(4, gridHeight, gridWidth)
    let imagePixels = product(latentPixels, config.scaleFactor, config.scaleFactor)
    let perPixel = 12 * 1024 * (config.decoderDims.last ?? 96) / 96 * Swift.max(dtype.size, 2) / 4
    return sum(product(imagePixels, perPixel), product(latentPixels, latentPixels, 4 * 2))
  }

  /// Refuses `what` when `needed` bytes do not fit under `limit` (default: MLX's limit) once `freed` bytes of what
  /// is resident now are released.
  static func check(needed: Int, freed: Int = 0, limit: Int? = nil, what: String, advice: String) throws {
    let (free, limit) = try available(limit: limit)
    let usable = Swift.min(limit, free + freed)
    if needed > usable {
      let (neededText, usableText) = distinct(needed, usable)
      throw ResourceError(
        "\(what) needs about \(neededText) of memory but only \(usableText) are free under the engine's \(gib(limit)) limit; \(advice)")
    }
  }
}
