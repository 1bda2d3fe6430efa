import CGRPCShim

/// Where the engine listens.
public enum ListenAddress: Sendable, Equatable {
  case unixSocket(path: String)
  case loopback(port: Int)

  var grpcAddress: String {
    switch self {
    case .unixSocket(let path): "unix:" + path
    case .loopback(let port): "127.0.0.1:\(port)"
    }
  }
}

/// A routed gRPC method: unary handlers return the response bytes; streaming handlers send messages themselves
/// and return the final (usually empty) response.
public typealias RPCHandler = (_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]?

/// The gRPC server: the C shim does the transport, this class routes each call to its handler and turns thrown
/// errors into status codes. The process never dies because of a request.
public final class EngineServer: @unchecked Sendable {
  private let server: OpaquePointer
  public let address: ListenAddress
  /// The bound TCP port (the chosen one when asked for port 0); 0 for a Unix socket.
  public let boundPort: Int
  private var routes: [String: RPCHandler] = [:]
  private var inPlaceMethods: Set<String> = []

  /// `token`: when set, every call must carry the metadata `authorization: Bearer <token>` (checked in the C
  /// shim in constant time) or it ends with UNAUTHENTICATED before any handler runs.
  public init(address: ListenAddress, maxMessageBytes: Int = 512 << 20, token: String? = nil) throws {
    var error = [CChar](repeating: 0, count: 512)
    if case .unixSocket(let path) = address {
      guard ngs_prepare_unix_socket(path, &error, error.count) == 0 else {
        throw RPCError(.unavailable, String(cBuffer: error))
      }
    }
    var port: Int32 = 0
    guard let server = ngs_server_start(address.grpcAddress, maxMessageBytes, &port, &error, error.count) else {
      throw RPCError(.unavailable, String(cBuffer: error))
    }
    if let token { ngs_server_require_token(server, token) }
    self.server = server
    self.address = address
    if case .loopback = address { boundPort = Int(port) } else { boundPort = 0 }
  }

  /// Registers `handler` for the full method path "/package.Service/Method". Call before `run`. With
  /// `readsRequestInPlace` the handler gets no copy of the request (an empty array) and decodes it from the call
  /// (`unpackMessage(call, ...)`): for the methods whose requests carry tensors.
  public func route(_ method: String, readsRequestInPlace: Bool = false, _ handler: @escaping RPCHandler) {
    routes[method] = handler
    if readsRequestInPlace { inPlaceMethods.insert(method) }
  }

  /// Runs before a call's request is read or copied, with the method path and the request's size; throwing refuses
  /// the call with the error's status. The closure it returns runs when the handler is done (e.g. to release memory
  /// reserved for the request).
  public var admitRequest: (_ method: String, _ requestBytes: Int) throws -> () -> Void = { _, _ in {} }

  public var isShuttingDown: Bool { ngs_server_is_shutting_down(server) != 0 }
  public var inFlightCalls: Int { Int(ngs_server_in_flight(server)) }

  public func shutdown() { ngs_server_shutdown(server) }
  public func watchSignals() { ngs_server_watch_signals(server) }
  public func watchStandardInput() { ngs_server_watch_stdin(server) }

  /// Serves until shutdown; in-flight calls get `graceMilliseconds` to finish, then are cancelled.
  public func run(graceMilliseconds: Int) {
    let context = Unmanaged.passUnretained(self).toOpaque()
    ngs_server_run(server, { context, call in
      guard let context, let call else { return }
      Unmanaged<EngineServer>.fromOpaque(context).takeUnretainedValue().dispatch(RPCCall(call: call))
    }, context, Int32(graceMilliseconds))
    ngs_server_destroy(server)
  }

  private func dispatch(_ call: RPCCall) {
    let method = call.method
    guard let handler = routes[method] else {
      call.finish(.unimplemented, message: "unknown method \(method): this engine serves nucleus.engine.v1.Engine")
      return
    }
    do {
      let done = try admitRequest(method, call.requestLength)
      defer { done() }
      guard let request = inPlaceMethods.contains(method) ? (call.hasRequest ? [] : nil) : call.request else {
        call.finish(.invalidArgument, message: "\(method) received no request message")
        return
      }
      let response = try handler(request, call)
      // Unary handlers return their response; streaming handlers send messages themselves and return nil.
      if !call.isFinished { call.finish(.ok, response: response) }
    } catch {
      let (status, message) = RPCError.status(for: error, method: method)
      if !call.isFinished { call.finish(status, message: message) }
    }
  }
}
