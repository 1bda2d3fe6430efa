import CEngineProto

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
    pointer.withMemoryRebound(to: ProtobufCMessage.self, capacity: 1) { protobuf_c_message_free_unpacked($0, nil) }
  }

  var message: Message { pointer.pointee }
}

/// Decodes `bytes` with a generated protobuf-c unpack function, or throws INVALID_ARGUMENT naming the message.
func unpackMessage<Message>(
  _ bytes: [UInt8], _ name: String,
  _ unpack: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Message>?
) throws -> UnpackedMessage<Message> {
  let decoded = bytes.withUnsafeBufferPointer { unpack(nil, $0.count, $0.baseAddress) }
  guard let decoded else {
    throw RPCError(.invalidArgument, "malformed request: the payload is not a valid \(name) protobuf message")
  }
  return UnpackedMessage(pointer: decoded)
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
