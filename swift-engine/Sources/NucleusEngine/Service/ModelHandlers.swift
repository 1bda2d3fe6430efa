import CEngineProto
import Checkpoints
import MLX
import MLXNN
import NucleusModels

extension EngineService {
  // MARK: ImportEmbedding

  func importEmbedding(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(call, "ImportEmbeddingRequest", nucleus__engine__v1__import_embedding_request__unpack)
    try sharedMemory.fill(decoded.message.embedding, field: "embedding")
    try sharedMemory.fill(decoded.message.mask, field: "mask")
    try TensorBounds.check(decoded.message.embedding, field: "embedding")
    try TensorBounds.check(decoded.message.mask, field: "mask")
    var embedding = try TensorCoding.require(decoded.message.embedding, field: "embedding")
    if embedding.ndim == 3 && embedding.shape[0] == 1 { embedding = try embedding.squeezed(axes: [0]) }
    guard embedding.ndim == 2, embedding.shape[0] > 0, embedding.dtype.isFloatingPoint else {
      throw RPCError(.invalidArgument, "embedding must be a float tensor [L, D] or [1, L, D] with L ≥ 1, not \(embedding.dtype) \(embedding.shape)")
    }
    let (length, width) = (embedding.shape[0], embedding.shape[1])
    if let loaded = container.snapshot.transformer, width != loaded.model.config.jointAttentionDim {
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
    try compute {
      try eval([embedding] + (mask.map { [$0] } ?? []))
      guard try embedding.allFinite() else { throw RPCError(.invalidArgument, "embedding contains NaN or infinite values") }
    }
    let handle = container.add(ModelContainer.Embedding(embedding: embedding, mask: mask))

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
    let decoded = try unpackMessage(call, "DenoiseRequest", nucleus__engine__v1__denoise_request__unpack)
    let message = decoded.message
    let (h, w) = try checkedLatentsRequest(message.latents, gridHeight: message.grid_height, gridWidth: message.grid_width)
    let sigma = message.timestep
    guard sigma.isFinite, sigma >= 0, sigma <= 1 else {
      throw RPCError(.invalidArgument, "timestep must be a sigma in [0, 1], not \(sigma)")
    }
    guard message.n_conditioning > 0 else { throw RPCError(.invalidArgument, "conditioning is empty: give one embedding handle per prediction") }
    guard message.n_conditioning <= 16 else {
      throw RPCError(.invalidArgument, "\(message.n_conditioning) conditionings in one call: send at most 16 (one batched forward each)")
    }
    let handles = (0..<message.n_conditioning).map { message.conditioning[$0] }
    let embeddings = try handles.map { try container.embedding($0) }
    if let target = message.predictions_to {
      // Each prediction has the latents' shape and dtype: the space is known before the forward runs.
      let latentsBytes = message.latents?.pointee.data.len ?? 0
      try sharedMemory.checkSpan(
        buffer: target.pointee.buffer, offset: target.pointee.offset,
        count: MemoryBudget.product(latentsBytes, handles.count), field: "predictions_to")
    }

    try container.perform { loaded in
      guard let transformer = loaded.transformer else {
        throw RPCError(.failedPrecondition, "no transformer is loaded: call LoadModel first")
      }
      let model = transformer.model
      let config = model.config
      let (latents, keepBatchAxis) = try TensorCoding.packedLatents(
        message.latents, gridHeight: h, gridWidth: w, channels: config.inChannels, what: "this transformer",
        channelsMeaning: "in_channels = latent channels × \(config.patchSize)×\(config.patchSize) patch, packed")
      let (tokens, channels) = (latents.shape[0], latents.shape[1])
      for (handle, embedding) in zip(handles, embeddings) where embedding.width != config.jointAttentionDim {
        throw RPCError(
          .invalidArgument,
          "embedding \(handle) is \(embedding.width) wide but the transformer's joint_attention_dim is \(config.jointAttentionDim)")
      }
      try MemoryBudget.check(
        needed: MemoryBudget.forwardBytes(
          model: model, matmulWeights: transformer.matmulWeights, batch: handles.count, tokens: tokens,
          textLength: embeddings.map(\.length).max() ?? 0),
        what: "a \(h)×\(w)-token forward for \(handles.count) conditioning(s)",
        advice: "use a smaller image, fewer conditionings per call, or quantize the model")

      if let text = loaded.textEncoder, text.unloadAfterEncode {
        var next = loaded
        next.textEncoder = nil
        next.textEncoderUnloadedReason =
          "the text encoder was unloaded when denoising started (low-memory mode): load it again to encode more prompts"
        container.install(next)
        try Memory.clearCache()
      }
      let started = monotonicSeconds()
      let offset = Swift.max(h / 2, w / 2)
      let key = ModelContainer.Embedding.ConditioningKey(transformer: transformer.id, ropeOffset: offset)
      var conditionings: [TextConditioning] = []
      for embedding in embeddings {
        if let cached = embedding.conditionings[key] {
          conditionings.append(cached)
        } else {
          let prepared = try model.prepareText(embedding: embedding.embedding, mask: embedding.mask, gridHeight: h, gridWidth: w)
          try eval(prepared.arrays)
          embedding.conditionings = embedding.conditionings.filter { $0.key.transformer == transformer.id }
          embedding.conditionings[key] = prepared
          conditionings.append(prepared)
        }
      }
      let batch = handles.count
      let input = try latents.reshaped(1, tokens, channels).broadcast(to: [batch, tokens, channels])
      let timesteps = try MLXArray.full([batch], value: Double(sigma))
      let output = try model(latents: input, gridHeight: h, gridWidth: w, timesteps: timesteps, text: conditionings)
        .asType(latents.dtype)
      try eval(output)
      let computeSeconds = monotonicSeconds() - started  // the forward; message handling is the RPC's overhead
      // One prediction per conditioning: consecutive rows of the output's bytes, sent from where they are.
      let (dense, bytes) = try output.contiguousBytes()
      guard FloatBytes.allFinite(bytes, dtype: output.dtype) else {
        throw NonFiniteOutput.error(
          what: "the transformer", step: "at timestep \(sigma)",
          inputs: [("latents", latents)] + zip(handles, embeddings).map { ("embedding \($0.0)", $0.1.embedding) })
      }
      // With predictions_to they go to shared memory in one write and the tensors name their slices instead.
      let target = message.predictions_to?.pointee
      if let target {
        try sharedMemory.write(bytes, buffer: target.buffer, offset: target.offset, field: "predictions_to")
      }
      let arena = CArena()
      arena.retain(dense)
      let predictionBytes = bytes.count / batch
      let tensors = (0..<batch).map { index in
        let rows = bytes[index * predictionBytes..<(index + 1) * predictionBytes]
        let tensor = TensorCoding.encode(
          bytes: target == nil ? UnsafeRawBufferPointer(rebasing: rows) : UnsafeRawBufferPointer(start: nil, count: 0),
          dtype: output.dtype, shape: keepBatchAxis ? [1, tokens, channels] : [tokens, channels], arena: arena)
        if let target {
          var slice = Nucleus__Engine__V1__SharedSlice()
          nucleus__engine__v1__shared_slice__init(&slice)
          slice.buffer = target.buffer
          slice.offset = target.offset + UInt64(rows.startIndex)
          tensor.pointee.shared = arena.object(slice)
        }
        return Optional(tensor)
      }
      var response = Nucleus__Engine__V1__DenoiseResponse()
      nucleus__engine__v1__denoise_response__init(&response)
      response.n_predictions = tensors.count
      response.predictions = arena.array(tensors)
      response.compute_seconds = computeSeconds
      call.packResponse(&response)  // the predictions' bytes, copied once into the transport's buffer
    }
    call.finishWithPackedResponse()
    return nil
  }

  // MARK: Release

  func release(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "ReleaseRequest", nucleus__engine__v1__release_request__unpack)
    let handles = (0..<decoded.message.n_handles).map { decoded.message.handles[$0] }
    var response = Nucleus__Engine__V1__ReleaseResponse()
    nucleus__engine__v1__release_response__init(&response)
    response.released = UInt32(container.release(handles))
    return packMessage(&response)
  }
}
