import CEngineProto
import Checkpoints
import MLX
import MLXNN
import NucleusModels

/// A requested component, planned: its model (no weights yet) and how its folder fills it.
struct PlannedComponent {
  enum Model {
    case transformer(NucleusTransformer)
    case vae(VAEDecoder)
    case textEncoder(Qwen3TextEncoder, languageModelParameters: Int)
  }

  var name: String
  var model: Model
  var plan: LoadPlan
  var computeDType: DType
  var storageDType: DType
}

extension EngineService {
  /// Plans every component the request names from configs and headers alone (no tensor data is read).
  func planComponents(_ load: LoadRequest) throws -> [PlannedComponent] {
    var planned: [PlannedComponent] = []
    if let directory = load.transformerDirectory {
      let folder = try ComponentFolder.open(directory)
      let (compute, storage) = loadDTypes(requested: load.dtype, folder: folder)
      let (model, plan) = try NucleusTransformer.planned(
        folder, dtype: compute, storage: storage, quantize: load.transformerQuantization)
      planned.append(PlannedComponent(name: "transformer", model: .transformer(model), plan: plan, computeDType: compute, storageDType: storage))
    }
    if let directory = load.vaeDirectory {
      let folder = try ComponentFolder.open(directory)
      let (compute, storage) = loadDTypes(requested: load.dtype, folder: folder)
      let (model, plan) = try VAEDecoder.planned(folder, dtype: compute, storage: storage)
      planned.append(PlannedComponent(name: "vae", model: .vae(model), plan: plan, computeDType: compute, storageDType: storage))
    }
    if let directory = load.textEncoderDirectory {
      let folder = try ComponentFolder.open(directory)
      let config = try folder.decodeConfig(TextEncoderConfig.self)
      let depth = try config.hiddenStateIndex(load.textHiddenLayer)
      let (compute, storage) = loadDTypes(requested: load.dtype, folder: folder)
      let (model, plan) = try Qwen3TextEncoder.planned(
        folder, depth: depth, dtype: compute, storage: storage, quantize: load.textEncoderQuantization)
      let languageModel = folder.logicalParameterCount(try folder.recordedQuantization()) { $0.hasPrefix(config.keyPrefix) }
      planned.append(PlannedComponent(
        name: "text_encoder", model: .textEncoder(model, languageModelParameters: languageModel), plan: plan,
        computeDType: compute, storageDType: storage))
    }
    return planned
  }

  func loadModel(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "LoadModelRequest", nucleus__engine__v1__load_model_request__unpack)
    let load = try LoadRequest(decoded.message, raw: request)
    let started = monotonicSeconds()
    let planned = try planComponents(load)

    return try container.perform { current in
      let names = Set(planned.map(\.name))
      let replaced = [
        names.contains("transformer") ? current.transformer?.residentBytes : nil,
        names.contains("vae") ? current.vae?.residentBytes : nil,
        names.contains("text_encoder") ? current.textEncoder?.residentBytes : nil,
      ].compactMap { $0 }.reduce(0, +)
      let needed = planned.reduce(0) { $0 + $1.plan.residentBytes }
      let limit = try MemoryBudget.effectiveLimit(requested: load.memoryLimit)
      // Everything is checked before anything is dropped or read, so a refused load leaves the engine as it was.
      try MemoryBudget.check(
        needed: needed, freed: replaced, limit: limit, what: "loading \(planned.map(\.name).joined(separator: " and "))",
        advice: "quantize (options.transformer / options.experts / options.text_encoder bits 8 or 4), load fewer components, or free memory")
      if load.memoryLimit > 0 { try Memory.setMemoryLimit(UInt64(limit)) }

      var next = current
      if names.contains("transformer") { next.transformer = nil }
      if names.contains("vae") { next.vae = nil }
      if names.contains("text_encoder") {
        next.textEncoder = nil
        next.textEncoderUnloadedReason = nil
      }
      container.install(next)
      try Memory.clearCache()

      var summaries: [ComponentSummary] = []
      for component in planned {
        var lastReport = -1
        try ModelLoader(component.plan).load(
          progress: { progress in
            let percent = progress.bytesTotal == 0 ? 100 : progress.bytesDone * 100 / progress.bytesTotal
            guard percent != lastReport else { return }
            lastReport = percent
            self.sendProgress(call, component: component.name, progress: progress, message: "loading \(component.plan.folder.directory)")
          }, isCancelled: { call.isCancelled })
        let id = container.makeIdentity()
        let parameters = component.plan.parameterCount
        let resident = component.plan.items.reduce(0) { $0 + $1.parameter.nbytes }
        let quantization = LoadRequest.describe(component.plan.quantization)
        switch component.model {
        case .transformer(let model):
          next.transformer = .init(
            id: id, model: model, directory: load.modelDirectory, parameterCount: parameters, residentBytes: resident,
            quantization: quantization, weightDType: component.storageDType,
            matmulWeights: MemoryBudget.matmulWeights(of: model))
          summaries.append(summary(of: next.transformer!))
        case .vae(let decoder):
          let all = component.plan.folder.logicalParameterCount(nil)
          next.vae = .init(
            id: id, decoder: decoder, directory: load.modelDirectory, parameterCount: parameters, residentBytes: resident,
            checkpointParameterCount: all, weightDType: component.storageDType)
          summaries.append(summary(of: next.vae!))
        case .textEncoder(let encoder, let languageModel):
          next.textEncoder = .init(
            id: id, encoder: encoder, directory: load.modelDirectory, parameterCount: parameters, residentBytes: resident,
            languageModelParameters: languageModel, defaultHiddenLayer: load.textHiddenLayer, quantization: quantization,
            unloadAfterEncode: load.unloadTextEncoderAfterEncode, weightDType: component.storageDType)
          summaries.append(summary(of: next.textEncoder!))
        }
        container.install(next)
      }

      let arena = CArena()
      var summary = Nucleus__Engine__V1__ModelSummary()
      nucleus__engine__v1__model_summary__init(&summary)
      summary.model_dir = arena.string(load.modelDirectory)
      let infos = summaries.map { Optional(componentMessage($0, arena: arena)) }
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
struct ComponentSummary {
  var name: String
  var dtype: String
  var parameters: Int
  var bytes: Int
  var quantization: String
  var checkpointParameters: Int
  var weightDType: String
}

func summary(of loaded: ModelContainer.LoadedTransformer) -> ComponentSummary {
  ComponentSummary(
    name: "transformer", dtype: "\(loaded.model.dtype)", parameters: loaded.parameterCount,
    bytes: loaded.residentBytes, quantization: loaded.quantization, checkpointParameters: loaded.parameterCount,
    weightDType: "\(loaded.weightDType)")
}

func summary(of loaded: ModelContainer.LoadedTextEncoder) -> ComponentSummary {
  ComponentSummary(
    name: "text_encoder", dtype: "\(loaded.encoder.dtype)", parameters: loaded.parameterCount,
    bytes: loaded.residentBytes, quantization: loaded.quantization, checkpointParameters: loaded.languageModelParameters,
    weightDType: "\(loaded.weightDType)")
}

func summary(of loaded: ModelContainer.LoadedVAE) -> ComponentSummary {
  ComponentSummary(
    name: "vae", dtype: "\(loaded.decoder.dtype)", parameters: loaded.parameterCount, bytes: loaded.residentBytes,
    quantization: "none", checkpointParameters: loaded.checkpointParameterCount, weightDType: "\(loaded.weightDType)")
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
  info.weight_dtype = arena.string(component.weightDType)
  return arena.object(info)
}
