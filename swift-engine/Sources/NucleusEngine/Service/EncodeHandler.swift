import CEngineProto
import MLX
import NucleusModels

extension EngineService {
  func encodeText(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "EncodeTextRequest", nucleus__engine__v1__encode_text_request__unpack)
    let message = decoded.message
    let tokens = (0..<message.n_token_ids).map { message.token_ids[$0] }
    guard !tokens.isEmpty else { throw RPCError(.invalidArgument, "token_ids is empty: tokenize the prompt with its chat template first") }
    var mask: [Bool]?
    if message.n_attention_mask > 0 {
      guard message.n_attention_mask == tokens.count else {
        throw RPCError(.invalidArgument, "attention_mask has \(message.n_attention_mask) entries for \(tokens.count) tokens")
      }
      let flags = (0..<message.n_attention_mask).map { message.attention_mask[$0] != 0 }
      guard flags.contains(true) else { throw RPCError(.invalidArgument, "attention_mask marks no token as real") }
      mask = flags.allSatisfy { $0 } ? nil : flags
    }

    let (handle, embedding, cached) = try container.perform { state -> (UInt64, MLXArray, Bool) in
      guard let loaded = state.textEncoder else {
        throw RPCError(
          .failedPrecondition,
          state.textEncoderUnloadedReason ?? "no text encoder is loaded: call LoadModel on a folder with a text_encoder/ component")
      }
      let encoder = loaded.encoder
      guard tokens.count <= Swift.min(encoder.config.maxPositionEmbeddings, 16384) else {
        throw RPCError(.invalidArgument, "\(tokens.count) tokens are more than the \(Swift.min(encoder.config.maxPositionEmbeddings, 16384)) the engine encodes at once")
      }
      if let bad = tokens.first(where: { Int($0) >= encoder.config.vocabSize }) {
        throw RPCError(.invalidArgument, "token id \(bad) is outside the text encoder's vocabulary of \(encoder.config.vocabSize)")
      }
      let requested = message.hidden_layer == 0 ? loaded.defaultHiddenLayer : Int(message.hidden_layer)
      let index: Int
      do {
        index = try encoder.config.hiddenStateIndex(requested)
      } catch {
        throw RPCError(.invalidArgument, "\(error)")
      }
      guard index <= encoder.depth else {
        throw RPCError(
          .failedPrecondition,
          "hidden layer \(requested) needs \(index) layers but only \(encoder.depth) were loaded: load with options.text_encoder_hidden_layer = \(requested)")
      }
      let key = ModelContainer.TextKey(
        encoder: loaded.id,
        text: "\(index)|\(tokens.map(String.init).joined(separator: ","))|\(mask.map { $0.map { $0 ? "1" : "0" }.joined() } ?? "")")
      if let hit = container.cachedText(key) {
        return (container.add(ModelContainer.Embedding(embedding: hit.embedding, mask: hit.mask)), hit.embedding, true)
      }
      let output = try encoder(tokens: tokens.map { Int32($0) }, mask: mask, hiddenState: index)
      let maskArray = try mask.map { try MLXArray($0, [$0.count]) }
      try eval([output] + (maskArray.map { [$0] } ?? []))
      container.cacheText(key, embedding: output, mask: maskArray)
      return (container.add(ModelContainer.Embedding(embedding: output, mask: maskArray)), output, false)
    }

    let arena = CArena()
    var response = Nucleus__Engine__V1__EncodeTextResponse()
    nucleus__engine__v1__encode_text_response__init(&response)
    response.embedding = arena.object(embeddingHandle(handle, length: tokens.count, width: embedding.shape[1]))
    response.cached = cached ? 1 : 0
    if message.return_tensor != 0 { response.tensor = try TensorCoding.encode(embedding, arena: arena) }
    return packMessage(&response)
  }
}
