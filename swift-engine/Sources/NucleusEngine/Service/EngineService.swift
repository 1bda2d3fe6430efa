import CEngineProto
import MLX
import NucleusModels

/// The nucleus.engine.v1.Engine service: state shared by all handlers and the routing table.
public final class EngineService: @unchecked Sendable {
  static let servicePath = "/nucleus.engine.v1.Engine/"

  let server: EngineServer
  let startedAt = monotonicSeconds()
  /// MLX graph building and evaluation are serialised: one computation at a time.
  let computeLock = Lock()
  let registry = ModelRegistry()

  public init(server: EngineServer) {
    self.server = server
  }

  var uptimeSeconds: Double { monotonicSeconds() - startedAt }

  /// Runs MLX work: one computation at a time, on the process-wide shared stream (calls arrive on many threads).
  func compute<T>(_ body: () throws -> T) throws -> T {
    try computeLock.withLock {
      try Device.useSharedStream()
      return try body()
    }
  }

  public func register() {
    route("GetInfo", getInfo)
    route("Health", health)
    route("Shutdown", shutdown)
    route("LoadModel", loadModel)
    route("ImportEmbedding", readsRequestInPlace: true, importEmbedding)
    route("Denoise", readsRequestInPlace: true, denoise)
    route("Release", release)
    route("Decode", readsRequestInPlace: true, decode)
    route("EncodeText", encodeText)
  }

  private func route(_ name: String, readsRequestInPlace: Bool = false, _ handler: @escaping RPCHandler) {
    server.route(Self.servicePath + name, readsRequestInPlace: readsRequestInPlace, handler)
  }
}
