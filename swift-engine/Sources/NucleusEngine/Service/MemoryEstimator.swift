import Checkpoints
import MLX
import MLXNN
import NucleusModels

/// Peak memory of the whole pipeline for a model folder loaded one way or another, from configs and headers only:
/// what LoadModel would make resident, plus the working memory of text encoding, a CFG forward and the decode.
struct MemoryEstimator {
  struct Footprint {
    var resident: Int
    var working: Int
  }

  /// Memory of the engine process besides MLX's buffers (binary, libraries, gRPC, allocator slack), measured on
  /// the CPU backend (about 0.3 GiB idle; rounded up).
  static let processOverheadBytes = 512 << 20
  /// Text tokens assumed for a prompt with the chat template (the default system prompt alone is about 70).
  static let promptTokens = 512

  let load: LoadRequest
  let width: Int
  let height: Int

  /// The transformer, VAE and text encoder footprints with `transformer` / `text` quantization (nil: as stored or
  /// as requested); nil for a component that cannot load that way (e.g. re-quantizing a quantized folder).
  func transformer(_ choice: QuantizationChoice?) throws -> Footprint? {
    guard let directory = load.transformerDirectory else { return Footprint(resident: 0, working: 0) }
    let folder = try ComponentFolder.open(directory)
    let (compute, storage) = loadDTypes(requested: load.dtype, folder: folder)
    guard let (model, plan) = try? NucleusTransformer.planned(
      folder, dtype: compute, storage: storage, quantize: choice ?? load.transformerQuantization)
    else { return nil }
    let patch = model.config.patchSize * 8
    let tokens = (height / patch) * (width / patch)
    let working = MemoryBudget.sum(
      MemoryBudget.forwardBytes(config: model.config, dtype: compute, batch: 2, tokens: tokens, textLength: Self.promptTokens),
      MemoryBudget.weightTransientBytes(plan, computeDType: compute))
    return Footprint(resident: plan.residentBytes, working: working)
  }

  func vae() throws -> Footprint {
    guard let directory = load.vaeDirectory else { return Footprint(resident: 0, working: 0) }
    let folder = try ComponentFolder.open(directory)
    let (compute, storage) = loadDTypes(requested: load.dtype, folder: folder)
    let (model, plan) = try VAEDecoder.planned(folder, dtype: compute, storage: storage)
    let scale = 2 * model.config.scaleFactor
    let working = MemoryBudget.sum(
      MemoryBudget.decodeBytes(config: model.config, dtype: compute, gridHeight: height / scale, gridWidth: width / scale),
      MemoryBudget.weightTransientBytes(plan, computeDType: compute))
    return Footprint(resident: plan.residentBytes, working: working)
  }

  func textEncoder(_ choice: QuantizationChoice?) throws -> Footprint? {
    guard let directory = load.textEncoderDirectory else { return Footprint(resident: 0, working: 0) }
    let folder = try ComponentFolder.open(directory)
    let config = try folder.decodeConfig(TextEncoderConfig.self)
    let (compute, storage) = loadDTypes(requested: load.dtype, folder: folder)
    guard let (_, plan) = try? Qwen3TextEncoder.planned(
      folder, depth: try config.hiddenStateIndex(load.textHiddenLayer), dtype: compute, storage: storage,
      quantize: choice ?? load.textEncoderQuantization)
    else { return nil }
    let working = MemoryBudget.sum(
      MemoryBudget.encodeBytes(config: config, dtype: compute, tokens: Self.promptTokens),
      MemoryBudget.weightTransientBytes(plan, computeDType: compute))
    return Footprint(resident: plan.residentBytes, working: working)
  }

  /// Peak bytes of the pipeline with these footprints, and whether low-memory mode decodes with the transformer
  /// unloaded (when decoding beside it would not fit under `limit`). Sums saturate: absurd sizes stay absurd.
  static func peak(transformer: Footprint, vae: Footprint, text: Footprint, lowMemory: Bool, limit: Int)
    -> (bytes: Int, decodeAlone: Bool)
  {
    let denoising = MemoryBudget.sum(transformer.resident, vae.resident, transformer.working)
    let decodingBeside = MemoryBudget.sum(transformer.resident, vae.resident, vae.working)
    let encoding = MemoryBudget.sum(text.resident, text.working)
    guard lowMemory else {
      let working = Swift.max(transformer.working, vae.working, text.working)
      return (MemoryBudget.sum(processOverheadBytes, transformer.resident, vae.resident, text.resident, working), false)
    }
    let decodeAlone = MemoryBudget.sum(processOverheadBytes, decodingBeside) > limit
    let decoding = decodeAlone ? MemoryBudget.sum(vae.resident, vae.working) : decodingBeside
    return (MemoryBudget.sum(processOverheadBytes, Swift.max(encoding, denoising, decoding)), decodeAlone)
  }
}
