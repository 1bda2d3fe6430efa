import CEngineProto
import Checkpoints
import MLX
import MLXNN
import NucleusModels

extension EngineService {
  // MARK: LoadModel

  func loadModel(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "LoadModelRequest", nucleus__engine__v1__load_model_request__unpack)
    let load = try LoadRequest(decoded.message)
    let started = monotonicSeconds()

    let folder: ComponentFolder
    let config: TransformerConfig
    do {
      folder = try ComponentFolder.open(load.transformerDirectory)
      config = try folder.decodeConfig(TransformerConfig.self)
      try config.validate()
    } catch let error as CheckpointError {
      throw RPCError(.invalidArgument, error.message)
    }
    if config.quantization != nil && load.plan != nil {
      throw RPCError(.invalidArgument, "\(folder.directory) is already quantized: load it without options.transformer/experts")
    }
    let storedFloat = folder.shards.values.flatMap(\.entries.values).compactMap { SafetensorsHeader.dtype(of: $0.dtype) }
      .first { $0.isFloatingPoint }
    // MLX's CPU backend has no BLAS path for half precision matmuls (about 5 GFLOP/s): compute in float32 there.
    let dtype = load.dtype ?? ((Device.backend == "cpu" && storedFloat != .float32) ? .float32 : storedFloat ?? .float32)

    return try computeLock.withLock {
      if load.memoryLimit > 0 { try Memory.setMemoryLimit(load.memoryLimit) }
      registry.install(nil)
      try Memory.clearCache()
      try MemoryBudget.check(
        needed: residentEstimate(folder, dtype: dtype, plan: load.plan), what: "the transformer",
        advice: "quantize it (options.transformer / options.experts bits 8 or 4), load it in a smaller dtype, or raise the memory limit")

      var lastReport = -1
      let loader = ComponentLoader(folder: folder, dtype: dtype, plan: load.plan)
      let arrays = try loader.load { progress in
        let percent = progress.bytesTotal == 0 ? 100 : progress.bytesDone * 100 / progress.bytesTotal
        guard percent != lastReport else { return }
        lastReport = percent
        self.sendProgress(call, component: "transformer", progress: progress, message: "loading \(folder.directory)")
      }
      if call.isCancelled { throw RPCError(.cancelled, "LoadModel was cancelled by the client") }

      var effective = config
      if let plan = load.plan { effective.quantization = QuantizationRecord(linear: plan.linear, experts: plan.experts) }
      let model: NucleusTransformer
      do {
        model = try NucleusTransformer(config: effective, weights: WeightStore(arrays, computeDType: dtype), dtype: dtype)
      } catch {
        throw RPCError(.invalidArgument, "\(folder.directory): \(error)")
      }
      let parameters = folder.weightMap.keys.reduce(0) { total, key in
        total + (folder.shards[folder.weightMap[key]!]!.entries[key]!.shape.reduce(1, *))
      }
      let loaded = ModelRegistry.LoadedTransformer(
        model: model, directory: load.modelDirectory, parameterCount: parameters,
        residentBytes: arrays.values.reduce(0) { $0 + $1.nbytes },
        quantization: LoadRequest.describe(effective.quantization))
      registry.install(loaded)

      let arena = CArena()
      var summary = Nucleus__Engine__V1__ModelSummary()
      nucleus__engine__v1__model_summary__init(&summary)
      summary.model_dir = arena.string(load.modelDirectory)
      let components = [componentInfo(loaded, arena: arena)]
      summary.n_components = components.count
      summary.components = arena.array(components.map { Optional($0) })
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

  func componentInfo(_ loaded: ModelRegistry.LoadedTransformer, arena: CArena)
    -> UnsafeMutablePointer<Nucleus__Engine__V1__ComponentInfo>
  {
    var info = Nucleus__Engine__V1__ComponentInfo()
    nucleus__engine__v1__component_info__init(&info)
    info.name = arena.string("transformer")
    info.dtype = arena.string("\(loaded.model.dtype)")
    info.parameter_count = UInt64(loaded.parameterCount)
    info.bytes = UInt64(loaded.residentBytes)
    info.quantization = arena.string(loaded.quantization)
    return arena.object(info)
  }

  // MARK: ImportEmbedding

  func importEmbedding(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "ImportEmbeddingRequest", nucleus__engine__v1__import_embedding_request__unpack)
    var embedding = try TensorCoding.require(decoded.message.embedding, field: "embedding")
    if embedding.ndim == 3 && embedding.shape[0] == 1 { embedding = try embedding.squeezed(axes: [0]) }
    guard embedding.ndim == 2, embedding.shape[0] > 0, embedding.dtype.isFloatingPoint else {
      throw RPCError(.invalidArgument, "embedding must be a float tensor [L, D] or [1, L, D] with L ≥ 1, not \(embedding.dtype) \(embedding.shape)")
    }
    let (length, width) = (embedding.shape[0], embedding.shape[1])
    if let loaded = registry.transformer, width != loaded.model.config.jointAttentionDim {
      throw RPCError(
        .invalidArgument,
        "embedding width \(width) does not match the transformer's joint_attention_dim \(loaded.model.config.jointAttentionDim)")
    }
    var mask = try TensorCoding.decode(decoded.message.mask, field: "mask")
    if let given = mask {
      let flat = try given.reshaped(-1)
      guard flat.shape == [length], given.ndim <= 2 else {
        throw RPCError(.invalidArgument, "mask must have one entry per token ([\(length)] or [1, \(length)]), not \(given.shape)")
      }
      let flags = try notEqual(flat.asType(.float32), MLXArray.scalar(0))
      let real = try flags.asArray(Bool.self)
      guard real.contains(true) else { throw RPCError(.invalidArgument, "mask marks no token as real") }
      mask = real.allSatisfy { $0 } ? nil : flags
    }
    try computeLock.withLock { try eval([embedding] + (mask.map { [$0] } ?? [])) }
    let handle = registry.add(ModelRegistry.Embedding(embedding: embedding, mask: mask))

    let arena = CArena()
    var response = Nucleus__Engine__V1__ImportEmbeddingResponse()
    nucleus__engine__v1__import_embedding_response__init(&response)
    response.embedding = arena.object(embeddingHandle(handle, length: length, width: width))
    return packMessage(&response)
  }

  func embeddingHandle(_ handle: UInt64, length: Int, width: Int) -> Nucleus__Engine__V1__EmbeddingHandle {
    var message = Nucleus__Engine__V1__EmbeddingHandle()
    nucleus__engine__v1__embedding_handle__init(&message)
    message.id = handle
    message.length = UInt32(length)
    message.width = UInt32(width)
    return message
  }

  // MARK: Denoise

  func denoise(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "DenoiseRequest", nucleus__engine__v1__denoise_request__unpack)
    let message = decoded.message
    guard let loaded = registry.transformer else {
      throw RPCError(.failedPrecondition, "no transformer is loaded: call LoadModel first")
    }
    let model = loaded.model
    let config = model.config
    var latents = try TensorCoding.require(message.latents, field: "latents")
    let keepBatchAxis = latents.ndim == 3
    if keepBatchAxis && latents.shape[0] == 1 { latents = try latents.squeezed(axes: [0]) }
    guard latents.ndim == 2, latents.dtype.isFloatingPoint else {
      throw RPCError(.invalidArgument, "latents must be a float tensor [S, C] or [1, S, C], not \(latents.dtype) \(latents.shape)")
    }
    let (tokens, channels) = (latents.shape[0], latents.shape[1])
    guard channels == config.inChannels else {
      throw RPCError(
        .invalidArgument,
        "latents have \(channels) channels per token; this transformer takes in_channels = \(config.inChannels) (latent channels × \(config.patchSize)×\(config.patchSize) patch, packed)")
    }
    let (h, w) = (Int(message.grid_height), Int(message.grid_width))
    guard h > 0, w > 0, h * w == tokens else {
      throw RPCError(.invalidArgument, "grid \(h)×\(w) has \(h * w) tokens but the latents have S = \(tokens)")
    }
    let sigma = message.timestep
    guard sigma.isFinite, sigma >= 0, sigma <= 1 else {
      throw RPCError(.invalidArgument, "timestep must be a sigma in [0, 1], not \(sigma)")
    }
    let handles = (0..<message.n_conditioning).map { message.conditioning[$0] }
    guard !handles.isEmpty else { throw RPCError(.invalidArgument, "conditioning is empty: give one embedding handle per prediction") }
    let embeddings = try handles.map { try registry.embedding($0) }
    for (handle, embedding) in zip(handles, embeddings) where embedding.width != config.jointAttentionDim {
      throw RPCError(
        .invalidArgument,
        "embedding \(handle) is \(embedding.width) wide but the transformer's joint_attention_dim is \(config.jointAttentionDim)")
    }
    try MemoryBudget.check(
      needed: MemoryBudget.forwardBytes(
        config: config, dtype: model.dtype, batch: handles.count, tokens: tokens,
        textLength: embeddings.map(\.length).max() ?? 0),
      what: "a \(h)×\(w)-token forward for \(handles.count) conditioning(s)",
      advice: "use a smaller image, fewer conditionings per call, or quantize the model")

    return try computeLock.withLock {
      let started = monotonicSeconds()
      let offset = Swift.max(h / 2, w / 2)
      var conditionings: [TextConditioning] = []
      for embedding in embeddings {
        if let cached = embedding.conditionings[offset] {
          conditionings.append(cached)
        } else {
          let prepared = try model.prepareText(embedding: embedding.embedding, mask: embedding.mask, gridHeight: h, gridWidth: w)
          try eval(prepared.arrays)
          embedding.conditionings[offset] = prepared
          conditionings.append(prepared)
        }
      }
      let batch = handles.count
      let input = try latents.reshaped(1, tokens, channels).broadcast(to: [batch, tokens, channels])
      let timesteps = try MLXArray.full([batch], value: Double(sigma))
      let output = try model(latents: input, gridHeight: h, gridWidth: w, timesteps: timesteps, text: conditionings)
        .asType(latents.dtype)
      try eval(output)
      let predictions = try output.split(parts: batch, axis: 0).map { prediction in
        try keepBatchAxis ? prediction : prediction.squeezed(axes: [0])
      }
      let arena = CArena()
      var response = Nucleus__Engine__V1__DenoiseResponse()
      nucleus__engine__v1__denoise_response__init(&response)
      let tensors = try predictions.map { Optional(try TensorCoding.encode($0, arena: arena)) }
      response.n_predictions = tensors.count
      response.predictions = arena.array(tensors)
      response.compute_seconds = monotonicSeconds() - started
      return packMessage(&response)
    }
  }

  // MARK: Release

  func release(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "ReleaseRequest", nucleus__engine__v1__release_request__unpack)
    let handles = (0..<decoded.message.n_handles).map { decoded.message.handles[$0] }
    var response = Nucleus__Engine__V1__ReleaseResponse()
    nucleus__engine__v1__release_response__init(&response)
    response.released = UInt32(registry.release(handles))
    return packMessage(&response)
  }
}
