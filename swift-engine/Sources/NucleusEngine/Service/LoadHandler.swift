import CEngineProto
import Checkpoints
import MLX
import MLXNN
import NucleusModels

extension EngineService {
  /// A component folder opened and checked, ready to load.
  private struct PlannedComponent {
    var name: String
    var folder: ComponentFolder
    var dtype: DType
    var plan: QuantizationPlan?
    var include: (@Sendable (String) -> Bool)?
    var residentBytes: Int
  }

  func loadModel(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "LoadModelRequest", nucleus__engine__v1__load_model_request__unpack)
    let load = try LoadRequest(decoded.message)
    let started = monotonicSeconds()

    // Validate every requested component before anything is loaded or freed.
    var planned: [PlannedComponent] = []
    var transformerConfig: TransformerConfig?
    var vaeConfig: VAEConfig?
    var textConfig: TextEncoderConfig?
    var textDepth = 0
    do {
      if let directory = load.transformerDirectory {
        let folder = try ComponentFolder.open(directory)
        let config = try folder.decodeConfig(TransformerConfig.self)
        try config.validate()
        if config.quantization != nil && load.plan != nil {
          throw RPCError(.invalidArgument, "\(directory) is already quantized: load it without options.transformer/experts")
        }
        let dtype = computeDType(load.dtype, folder)
        transformerConfig = config
        planned.append(PlannedComponent(
          name: "transformer", folder: folder, dtype: dtype, plan: load.plan, include: nil,
          residentBytes: residentEstimate(folder, dtype: dtype, plan: load.plan, include: nil)))
      }
      if let directory = load.vaeDirectory {
        let folder = try ComponentFolder.open(directory)
        let config = try folder.decodeConfig(VAEConfig.self)
        try config.validate()
        let dtype = computeDType(load.dtype, folder)
        vaeConfig = config
        planned.append(PlannedComponent(
          name: "vae", folder: folder, dtype: dtype, plan: nil, include: { VAEWeights.isDecoderKey($0) },
          residentBytes: residentEstimate(folder, dtype: dtype, plan: nil, include: { VAEWeights.isDecoderKey($0) })))
      }
      if let directory = load.textEncoderDirectory {
        let folder = try ComponentFolder.open(directory)
        let config = try folder.decodeConfig(TextEncoderConfig.self)
        try config.validate()
        if config.quantization != nil && load.textQuantization != nil {
          throw RPCError(.invalidArgument, "\(directory) is already quantized: load it without options.text_encoder")
        }
        textDepth = try config.hiddenStateIndex(load.textHiddenLayer)
        let dtype = computeDType(load.dtype, folder)
        let include = Qwen3TextEncoder.keyFilter(config: config, depth: textDepth)
        let plan = load.textQuantization.map { Qwen3TextEncoder.quantizationPlan($0) }
        textConfig = config
        planned.append(PlannedComponent(
          name: "text_encoder", folder: folder, dtype: dtype, plan: plan, include: include,
          residentBytes: residentEstimate(folder, dtype: dtype, plan: plan, include: include)))
      }
    } catch let error as CheckpointError {
      throw RPCError(.invalidArgument, error.message)
    }

    return try compute {
      if load.memoryLimit > 0 { try Memory.setMemoryLimit(load.memoryLimit) }
      if transformerConfig != nil { registry.install(nil) }
      if vaeConfig != nil { registry.install(vae: nil) }
      if textConfig != nil { registry.install(textEncoder: nil) }
      try Memory.clearCache()
      try MemoryBudget.check(
        needed: planned.reduce(0) { $0 + $1.residentBytes }, what: "loading \(planned.map(\.name).joined(separator: " and "))",
        advice: "quantize the transformer (options.transformer / options.experts bits 8 or 4), load in a smaller dtype, or raise the memory limit")

      var components: [ComponentSummary] = []
      for component in planned {
        var lastReport = -1
        let loader = ComponentLoader(
          folder: component.folder, dtype: component.dtype, plan: component.plan, include: component.include)
        let arrays = try loader.load { progress in
          let percent = progress.bytesTotal == 0 ? 100 : progress.bytesDone * 100 / progress.bytesTotal
          guard percent != lastReport else { return }
          lastReport = percent
          self.sendProgress(call, component: component.name, progress: progress, message: "loading \(component.folder.directory)")
        }
        if call.isCancelled { throw RPCError(.cancelled, "LoadModel was cancelled by the client") }
        let parameters = parameterCount(component.folder, keys: loader.selectedKeys())
        let resident = arrays.values.reduce(0) { $0 + $1.nbytes }
        do {
          if component.name == "transformer", var config = transformerConfig {
            if let plan = component.plan { config.quantization = QuantizationRecord(linear: plan.linear, experts: plan.experts) }
            let model = try NucleusTransformer(
              config: config, weights: WeightStore(arrays, computeDType: component.dtype), dtype: component.dtype)
            let loaded = ModelRegistry.LoadedTransformer(
              model: model, directory: load.modelDirectory, parameterCount: parameters, residentBytes: resident,
              quantization: LoadRequest.describe(config.quantization))
            registry.install(loaded)
            components.append(summary(of: loaded))
          } else if component.name == "vae", let config = vaeConfig {
            let decoder = try VAEDecoder(config: config, arrays: arrays, dtype: component.dtype)
            let loaded = ModelRegistry.LoadedVAE(
              decoder: decoder, directory: load.modelDirectory, parameterCount: parameters, residentBytes: resident,
              checkpointParameterCount: parameterCount(component.folder, keys: component.folder.weightMap.keys))
            registry.install(vae: loaded)
            components.append(summary(of: loaded))
          } else if component.name == "text_encoder", var config = textConfig {
            if let plan = component.plan { config.quantization = QuantizationRecord(linear: plan.linear, experts: nil) }
            let encoder = try Qwen3TextEncoder(
              config: config, weights: WeightStore(arrays, computeDType: component.dtype), depth: textDepth,
              dtype: component.dtype)
            let languageModel = parameterCount(
              component.folder, keys: component.folder.weightMap.keys.filter { $0.hasPrefix(config.keyPrefix) })
            let loaded = ModelRegistry.LoadedTextEncoder(
              encoder: encoder, directory: load.modelDirectory, parameterCount: parameters, residentBytes: resident,
              languageModelParameters: languageModel, defaultHiddenLayer: load.textHiddenLayer,
              quantization: LoadRequest.describe(config.quantization), unloadAfterEncode: load.unloadTextEncoderAfterEncode)
            registry.install(textEncoder: loaded)
            components.append(summary(of: loaded))
          }
        } catch let error as RPCError {
          throw error
        } catch {
          throw RPCError(.invalidArgument, "\(component.folder.directory): \(error)")
        }
      }

      let arena = CArena()
      var summary = Nucleus__Engine__V1__ModelSummary()
      nucleus__engine__v1__model_summary__init(&summary)
      summary.model_dir = arena.string(load.modelDirectory)
      let infos = components.map { Optional(componentMessage($0, arena: arena)) }
      summary.n_components = infos.count
      summary.components = arena.array(infos)
      summary.load_seconds = monotonicSeconds() - started
      var event = Nucleus__Engine__V1__LoadModelEvent()
      nucleus__engine__v1__load_model_event__init(&event)
      event.event_case = NUCLEUS__ENGINE__V1__LOAD_MODEL_EVENT__EVENT_SUMMARY
      event.summary = arena.object(summary)
      call.send(packMessage(&event))
      return nil
    }
  }

  /// The requested dtype, else the checkpoint's floating dtype; MLX's CPU backend has no BLAS path for half
  /// precision matmuls (about 5 GFLOP/s), so half-precision checkpoints compute in float32 there by default.
  private func computeDType(_ requested: DType?, _ folder: ComponentFolder) -> DType {
    if let requested { return requested }
    let stored = folder.shards.values.flatMap(\.entries.values).compactMap { SafetensorsHeader.dtype(of: $0.dtype) }
      .first { $0.isFloatingPoint } ?? .float32
    return Device.backend == "cpu" ? .float32 : stored
  }

  private func sendProgress(_ call: RPCCall, component: String, progress: LoadProgress, message: String) {
    let arena = CArena()
    var update = Nucleus__Engine__V1__LoadProgress()
    nucleus__engine__v1__load_progress__init(&update)
    update.component = arena.string(component)
    update.bytes_done = UInt64(progress.bytesDone)
    update.bytes_total = UInt64(progress.bytesTotal)
    update.message = arena.string(message)
    var event = Nucleus__Engine__V1__LoadModelEvent()
    nucleus__engine__v1__load_model_event__init(&event)
    event.event_case = NUCLEUS__ENGINE__V1__LOAD_MODEL_EVENT__EVENT_PROGRESS
    event.progress = arena.object(update)
    call.send(packMessage(&event))
  }
}

/// What GetInfo and LoadModel report about a loaded component.
/// Elements in the named tensors of a component's checkpoint, read from the safetensors headers.
func parameterCount(_ folder: ComponentFolder, keys: some Sequence<String>) -> Int {
  keys.reduce(0) { total, key in total + folder.shards[folder.weightMap[key]!]!.entries[key]!.shape.reduce(1, *) }
}

struct ComponentSummary {
  var name: String
  var dtype: String
  var parameters: Int
  var bytes: Int
  var quantization: String
  var checkpointParameters: Int
}

func summary(of loaded: ModelRegistry.LoadedTransformer) -> ComponentSummary {
  ComponentSummary(
    name: "transformer", dtype: "\(loaded.model.dtype)", parameters: loaded.parameterCount,
    bytes: loaded.residentBytes, quantization: loaded.quantization, checkpointParameters: loaded.parameterCount)
}

func summary(of loaded: ModelRegistry.LoadedTextEncoder) -> ComponentSummary {
  ComponentSummary(
    name: "text_encoder", dtype: "\(loaded.encoder.dtype)", parameters: loaded.parameterCount,
    bytes: loaded.residentBytes, quantization: loaded.quantization, checkpointParameters: loaded.languageModelParameters)
}

func summary(of loaded: ModelRegistry.LoadedVAE) -> ComponentSummary {
  ComponentSummary(
    name: "vae", dtype: "\(loaded.decoder.dtype)", parameters: loaded.parameterCount, bytes: loaded.residentBytes,
    quantization: "none", checkpointParameters: loaded.checkpointParameterCount)
}

func componentMessage(_ component: ComponentSummary, arena: CArena) -> UnsafeMutablePointer<Nucleus__Engine__V1__ComponentInfo> {
  var info = Nucleus__Engine__V1__ComponentInfo()
  nucleus__engine__v1__component_info__init(&info)
  info.name = arena.string(component.name)
  info.dtype = arena.string(component.dtype)
  info.parameter_count = UInt64(component.parameters)
  info.bytes = UInt64(component.bytes)
  info.quantization = arena.string(component.quantization)
  info.checkpoint_parameter_count = UInt64(component.checkpointParameters)
  return arena.object(info)
}
