import Checkpoints
import MLX
import MLXNN

/// Each component's layer tree matched with its folder: the model (no weights yet) and the LoadPlan that fills it.
/// Loading, inspecting and converting all start here, so they agree on what is read, quantized and counted.
extension NucleusTransformer {
  public static func planned(
    _ folder: ComponentFolder, dtype: DType, storage: DType? = nil, quantize: QuantizationChoice = QuantizationChoice()
  ) throws -> (model: NucleusTransformer, plan: LoadPlan) {
    let config = try folder.decodeConfig(TransformerConfig.self)
    let model = try NucleusTransformer(config: config, dtype: dtype)
    let plan = try LoadPlan(module: model, folder: folder, isUnused: isUnused, storageDType: storage, quantize: quantize)
    return (model, plan)
  }

  /// Reads a transformer folder (tests, benchmarks): plan, load, done.
  public static func load(
    _ directory: String, dtype: DType? = nil, storage: DType? = nil, quantize: QuantizationChoice = QuantizationChoice()
  ) throws -> NucleusTransformer {
    let folder = try ComponentFolder.open(directory)
    let (model, plan) = try planned(folder, dtype: dtype ?? folder.floatingDType, storage: storage, quantize: quantize)
    try ModelLoader(plan).load()
    return model
  }
}

extension Qwen3TextEncoder {
  /// `depth`: the deepest hidden state needed (layers after it are never read).
  public static func planned(
    _ folder: ComponentFolder, depth: Int, dtype: DType, storage: DType? = nil,
    quantize: QuantizationChoice = QuantizationChoice()
  ) throws -> (model: Qwen3TextEncoder, plan: LoadPlan) {
    let config = try folder.decodeConfig(TextEncoderConfig.self)
    let model = try Qwen3TextEncoder(config: config, depth: depth, dtype: dtype)
    let plan = try LoadPlan(
      module: model, folder: folder, keyPrefix: config.keyPrefix, isUnused: unusedKeys(config: config, depth: depth),
      storageDType: storage, quantize: quantize)
    return (model, plan)
  }

  public static func load(_ directory: String, depth: Int? = nil, dtype: DType? = nil, storage: DType? = nil) throws -> Qwen3TextEncoder {
    let folder = try ComponentFolder.open(directory)
    let config = try folder.decodeConfig(TextEncoderConfig.self)
    let (model, plan) = try planned(
      folder, depth: depth ?? config.numHiddenLayers, dtype: dtype ?? folder.floatingDType, storage: storage)
    try ModelLoader(plan).load()
    return model
  }
}

extension VAEDecoder {
  public static func planned(_ folder: ComponentFolder, dtype: DType, storage: DType? = nil) throws -> (model: VAEDecoder, plan: LoadPlan) {
    let model = try VAEDecoder(config: folder.decodeConfig(VAEConfig.self), dtype: dtype)
    let plan = try LoadPlan(module: model, folder: folder, isUnused: isUnused, storageDType: storage)
    return (model, plan)
  }

  public static func load(_ directory: String, dtype: DType? = nil, storage: DType? = nil) throws -> VAEDecoder {
    let folder = try ComponentFolder.open(directory)
    let (model, plan) = try planned(folder, dtype: dtype ?? folder.floatingDType, storage: storage)
    try ModelLoader(plan).load()
    return model
  }
}

extension ComponentFolder {
  /// The floating dtype the checkpoint stores its weights in (float32 when it has none).
  public var floatingDType: DType {
    shards.keys.sorted().lazy.compactMap { self.shards[$0] }.flatMap { $0.entries.values }
      .compactMap { SafetensorsHeader.dtype(of: $0.dtype) }.first { $0.isFloatingPoint } ?? .float32
  }
}
