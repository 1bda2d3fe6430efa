import CEngineProto
import MLX
import NucleusModels

/// The nucleus.engine.v1.Engine service: state shared by all handlers and the routing table.
public final class EngineService: @unchecked Sendable {
  static let servicePath = "/nucleus.engine.v1.Engine/"

  let server: EngineServer
  let startedAt = monotonicSeconds()
  /// The loaded model and everything derived from it; all MLX work runs through it, one computation at a time.
  let container = ModelContainer()
  /// Memory large requests hold while they are handled, counted against the memory limit.
  let requestMemory = RequestMemory()
  /// Files that tensors travel through instead of messages, for clients on this machine.
  let sharedMemory = SharedMemoryFiles()

  public init(server: EngineServer) {
    self.server = server
    Memory.keepFreedHostMemory()  // one forward's activations reused by the next, not fresh pages every time
  }

  var uptimeSeconds: Double { monotonicSeconds() - startedAt }

  /// Runs MLX work that needs no model (self-check, benchmark, decoding a request's tensors), serialised with all
  /// other computations.
  func compute<T>(_ body: () throws -> T) throws -> T {
    try container.perform { _ in try body() }
  }

  public func register() {
    // A large request's memory is reserved before the server reads or copies it.
    let requestMemory = self.requestMemory
    server.admitRequest = { method, requestBytes in
      let reserved = try requestMemory.reserve(requestBytes: requestBytes, method: String(method.split(separator: "/").last ?? ""))
      return { requestMemory.release(reserved) }
    }
    route("GetInfo", getInfo)
    route("Health", health)
    route("Shutdown", shutdown)
    route("LoadModel", loadModel)
    route("ImportEmbedding", readsRequestInPlace: true, importEmbedding)
    route("Denoise", readsRequestInPlace: true, denoise)
    route("Release", release)
    route("Decode", readsRequestInPlace: true, decode)
    route("EncodeText", encodeText)
    route("Unload", unload)
    route("InspectModel", inspectModel)
    route("ConvertModel", convertModel)
    route("AttachSharedMemory", attachSharedMemory)
    route("DetachSharedMemory", detachSharedMemory)
  }

  private func route(_ name: String, readsRequestInPlace: Bool = false, _ handler: @escaping RPCHandler) {
    server.route(Self.servicePath + name, readsRequestInPlace: readsRequestInPlace, handler)
  }
}
