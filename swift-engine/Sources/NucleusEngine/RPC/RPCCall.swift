import CGRPCShim

/// One incoming call: its method, its request bytes, and the way to answer.
public final class RPCCall {
  let call: OpaquePointer

  init(call: OpaquePointer) { self.call = call }

  public var method: String { String(cString: ngs_call_method(call)) }

  /// The request message bytes, or nil when the client sent none. The transport's copy is freed as the bytes are
  /// taken, so a large message is held once; call this once per call.
  public func takeRequest() -> [UInt8]? {
    var length = 0
    guard ngs_call_has_request(call, &length) != 0 else { return nil }
    var complete = false
    let bytes = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
      complete = length == 0 || ngs_call_take_request(call, buffer.baseAddress, length) == 0
      count = complete ? length : 0
    }
    return complete ? bytes : nil
  }

  /// Sends one message of a server stream; false when the client is gone.
  @discardableResult
  public func send(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBufferPointer { ngs_call_send(call, $0.baseAddress, $0.count) } == 0
  }

  /// True once `finish` was called.
  public private(set) var isFinished = false

  public func finish(_ status: GRPCStatus, message: String = "", response: [UInt8]? = nil) {
    isFinished = true
    if let response {
      // An empty message (e.g. ShutdownResponse) is still a message: pass a valid pointer with length 0.
      var placeholder: UInt8 = 0
      if response.isEmpty {
        _ = ngs_call_finish(call, status.rawValue, message, &placeholder, 0)
      } else {
        _ = response.withUnsafeBufferPointer { ngs_call_finish(call, status.rawValue, message, $0.baseAddress, $0.count) }
      }
    } else {
      _ = ngs_call_finish(call, status.rawValue, message, nil, 0)
    }
  }

  /// True once the client cancelled, its deadline passed or the connection broke.
  public var isCancelled: Bool { ngs_call_is_cancelled(call) != 0 }
}
