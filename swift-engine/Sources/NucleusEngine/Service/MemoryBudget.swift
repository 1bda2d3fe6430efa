import MLX
import NucleusModels

/// Refuses work that would not fit under MLX's memory limit, before any of it is computed.
enum MemoryBudget {
  static func available() throws -> (free: Int, limit: Int) {
    let memory = try Memory.snapshot()
    let limit = Int(memory.limitBytes)
    return (Swift.max(0, limit - Int(memory.activeBytes)), limit)
  }

  /// "1.5 GiB", or MiB below a tenth of a GiB.
  static func gib(_ bytes: Int) -> String {
    let tenths = Int((Double(bytes) / Double(1 << 30) * 10).rounded())
    return tenths == 0 ? "\(bytes >> 20) MiB" : "\(tenths / 10).\(tenths % 10) GiB"
  }

  /// Working memory of one forward for `batch` conditionings of up to `textLength` tokens over `tokens` image
  /// tokens: the largest of the per-layer temporaries (attention scores, MoE buffers, feed-forward), plus the
  /// residual stream and its copies. An over-estimate on purpose.
  static func forwardBytes(config: TransformerConfig, dtype: DType, batch: Int, tokens: Int, textLength: Int) -> Int {
    let element = dtype.size
    let keys = tokens + textLength
    let attentionScores = batch * config.numAttentionHeads * tokens * keys * 4 * 2
    let largestCapacity = (0..<config.numLayers).map { config.capacity(layer: $0, tokens: tokens) }.max() ?? 1
    let moe = config.numExperts * batch * largestCapacity * (2 * config.moeIntermediateDim + 2 * config.innerDim) * element * 2
    let dense = batch * tokens * 3 * config.denseInnerDim * element
    let residual = 12 * batch * tokens * config.innerDim * element
    return residual + Swift.max(attentionScores, moe, dense)
  }

  /// Working memory of one VAE decode, calibrated on the CPU backend (decoding block by block): about 11 KiB per
  /// output pixel in float32 (peak 0.70 GiB above the weights at 256², 4× that at 512²), plus the mid-block
  /// attention over every latent pixel where attention is not fused.
  static func decodeBytes(config: VAEConfig, dtype: DType, gridHeight: Int, gridWidth: Int) -> Int {
    let latentPixels = 4 * gridHeight * gridWidth
    let imagePixels = latentPixels * config.scaleFactor * config.scaleFactor
    let perPixel = 12 * 1024 * (config.decoderDims.last ?? 96) / 96 * Swift.max(dtype.size, 2) / 4
    return imagePixels * perPixel + latentPixels * latentPixels * 4 * 2
  }

  static func check(needed: Int, what: String, advice: String) throws {
    let (free, limit) = try available()
    if needed > free {
      throw RPCError(
        .resourceExhausted,
        "\(what) needs about \(gib(needed)) of memory but only \(gib(free)) are free under the engine's \(gib(limit)) limit; \(advice)")
    }
  }
}
