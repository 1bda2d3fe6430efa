import CEngineProto
import MLX

extension EngineService {
  func unload(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "UnloadRequest", nucleus__engine__v1__unload_request__unpack)
    let message = decoded.message
    guard message.n_components <= 16 else { throw RPCError(.invalidArgument, "components lists \(message.n_components) entries") }
    let names = (0..<message.n_components).map { string(message.components[$0]) }
    for name in names where !LoadRequest.knownComponents.contains(name) {
      throw RPCError(.invalidArgument, "unknown component '\(name.prefix(100))': use transformer, vae or text_encoder")
    }
    let all = names.isEmpty
    let (remaining, freed) = try container.perform { current -> (ModelContainer.Components, Int) in
      var next = current
      if all || names.contains("transformer") { next.transformer = nil }
      if all || names.contains("vae") { next.vae = nil }
      if all || names.contains("text_encoder") {
        next.textEncoder = nil
        next.textEncoderUnloadedReason = nil
      }
      container.install(next)
      try Memory.clearCache()
      return (next, current.residentBytes - next.residentBytes)
    }
    let arena = CArena()
    var response = Nucleus__Engine__V1__UnloadResponse()
    nucleus__engine__v1__unload_response__init(&response)
    let infos = [remaining.transformer.map(summary(of:)), remaining.vae.map(summary(of:)), remaining.textEncoder.map(summary(of:))]
      .compactMap { $0 }.map { Optional(componentMessage($0, arena: arena)) }
    response.n_loaded_components = infos.count
    response.loaded_components = arena.array(infos)
    response.freed_bytes = UInt64(freed)
    return packMessage(&response)
  }
}
