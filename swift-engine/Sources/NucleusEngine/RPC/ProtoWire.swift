/// A minimal reader of protobuf wire format, for the one thing protobuf-c's C strings cannot show: a string field
/// that holds a NUL byte (protobuf-c stops the C string there, silently shortening a path).
enum ProtoWire {
  /// Whether top-level length-delimited field `field` of `message` contains a NUL byte (false if malformed).
  static func stringField(_ field: Int, containsNULIn message: [UInt8]) -> Bool {
    var index = 0
    func varint() -> UInt64? {
      var value: UInt64 = 0
      var shift: UInt64 = 0
      while index < message.count, shift < 64 {
        let byte = message[index]
        index += 1
        value |= UInt64(byte & 0x7F) << shift
        if byte & 0x80 == 0 { return value }
        shift += 7
      }
      return nil
    }
    while index < message.count {
      guard let key = varint() else { return false }
      let (number, wireType) = (Int(key >> 3), key & 7)
      switch wireType {
      case 0: guard varint() != nil else { return false }
      case 1: index += 8
      case 5: index += 4
      case 2:
        guard let length = varint(), length <= UInt64(message.count - index) else { return false }
        let end = index + Int(length)
        if number == field && message[index..<end].contains(0) { return true }
        index = end
      default: return false
      }
    }
    return false
  }
}
