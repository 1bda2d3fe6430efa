import CEngineProto
import MLX

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// protobuf-c's allocator for decoded requests: large blocks (the bytes of tensors) come from MLX's memory, so that
/// TensorCoding can make them arrays without copying (`MLXArray.adopting`); everything else from malloc.
let messageAllocator: UnsafeMutablePointer<ProtobufCAllocator> = {
  let allocator = UnsafeMutablePointer<ProtobufCAllocator>.allocate(capacity: 1)
  allocator.initialize(
    to: ProtobufCAllocator(
      alloc: { _, size in
        if size >= 64 << 10, let pointer = PendingBytes.allocate(size) { return pointer }
        return malloc(size)
      },
      free: { _, pointer in
        guard let pointer else { return }
        if !PendingBytes.free(pointer) { Glibc_or_Darwin_free(pointer) }
      },
      allocator_data: nil))
  return allocator
}()

private func Glibc_or_Darwin_free(_ pointer: UnsafeMutableRawPointer) { free(pointer) }

/// Packs any protobuf-c message struct (its first member is the ProtobufCMessage base) into proto3 bytes.
func packMessage<Message>(_ message: inout Message) -> [UInt8] {
  withUnsafeMutablePointer(to: &message) { pointer in
    pointer.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { base in
      let size = protobuf_c_message_get_packed_size(base)
      var bytes = [UInt8](repeating: 0, count: size)
      _ = bytes.withUnsafeMutableBufferPointer { protobuf_c_message_pack(base, $0.baseAddress) }
      return bytes
    }
  }
}

/// A decoded request message, freed when this wrapper goes away.
final class UnpackedMessage<Message> {
  let pointer: UnsafeMutablePointer<Message>

  init(pointer: UnsafeMutablePointer<Message>) { self.pointer = pointer }

  deinit {
    pointer.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) {
      protobuf_c_message_free_unpacked($0, messageAllocator)
    }
  }

  var message: Message { pointer.pointee }
}

/// Decodes `bytes` with a generated protobuf-c unpack function, or throws INVALID_ARGUMENT naming the message.
func unpackMessage<Message>(
  _ bytes: [UInt8], _ name: String,
  _ unpack: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Message>?
) throws -> UnpackedMessage<Message> {
  let decoded = bytes.withUnsafeBufferPointer { unpack(messageAllocator, $0.count, $0.baseAddress) }
  guard let decoded else {
    throw RPCError(.invalidArgument, "malformed request: the payload is not a valid \(name) protobuf message")
  }
  return UnpackedMessage(pointer: decoded)
}

/// Decodes the request of `call` where the transport holds it (no copy of the message first).
func unpackMessage<Message>(
  _ call: RPCCall, _ name: String,
  _ unpack: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Message>?
) throws -> UnpackedMessage<Message> {
  let decoded = call.withRequestBytes { unpack(messageAllocator, $0.count, $0.baseAddress) }
  guard let decoded else {
    throw RPCError(.invalidArgument, "malformed request: the payload is not a valid \(name) protobuf message")
  }
  return UnpackedMessage(pointer: decoded)
}

extension RPCCall {
  /// Packs `message` straight into the call's response buffer (the transport sends those bytes without another
  /// copy); `finishWithPackedResponse` ends the call with it. Pack while the arrays the message points into live.
  func packResponse<Message>(_ message: inout Message) {
    withUnsafeMutablePointer(to: &message) { pointer in
      pointer.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { base in
        let size = protobuf_c_message_get_packed_size(base)
        _ = protobuf_c_message_pack(base, responseBuffer(size))
      }
    }
  }
}

/// A C string field of a decoded message as a Swift string ("" for null).
func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
  guard let pointer else { return "" }
  return String(cString: pointer)
}

extension String {
  /// Reads a NUL-terminated C string out of a fixed buffer.
  init(cBuffer buffer: [CChar]) {
    self = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  }
}
