import CEngineProto

/// Owns the C memory (strings, submessages, arrays) that a protobuf-c response points into, until it is packed.
final class CArena {
  private var allocations: [UnsafeMutableRawPointer] = []
  /// Objects whose memory the message points into (arrays whose bytes it sends in place).
  private var retained: [AnyObject] = []

  func retain(_ object: AnyObject) { retained.append(object) }

  deinit {
    for pointer in allocations { free(pointer) }
  }

  func string(_ value: String) -> UnsafeMutablePointer<CChar> {
    let pointer = strdup(value)!
    allocations.append(pointer)
    return pointer
  }

  /// A heap copy of `value`, e.g. a submessage struct.
  func object<T>(_ value: T) -> UnsafeMutablePointer<T> {
    let pointer = malloc(MemoryLayout<T>.stride)!.bindMemory(to: T.self, capacity: 1)
    pointer.initialize(to: value)
    allocations.append(UnsafeMutableRawPointer(pointer))
    return pointer
  }

  /// A heap array holding `values` (repeated fields); nil for an empty array.
  func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
    guard !values.isEmpty else { return nil }
    let pointer = malloc(MemoryLayout<T>.stride * values.count)!.bindMemory(to: T.self, capacity: values.count)
    pointer.initialize(from: values, count: values.count)
    allocations.append(UnsafeMutableRawPointer(pointer))
    return pointer
  }

  func bytes(_ data: [UInt8]) -> ProtobufCBinaryData {
    guard !data.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
    let pointer = malloc(data.count)!.bindMemory(to: UInt8.self, capacity: data.count)
    data.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: data.count) }
    allocations.append(UnsafeMutableRawPointer(pointer))
    return ProtobufCBinaryData(len: data.count, data: pointer)
  }
}
