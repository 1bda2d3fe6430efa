#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
import MLX

/// The header of a safetensors file, checked against the file itself before any tensor is read: MLX's loader
/// trusts the header, so a truncated or corrupt file would otherwise yield garbage instead of an error.
public struct SafetensorsHeader: Sendable {
  public struct Entry: Sendable, Equatable {
    public var dtype: String
    public var shape: [Int]
    public var begin: Int
    public var end: Int
    public var byteCount: Int { end - begin }
  }

  public let path: String
  public let entries: [String: Entry]
  public let metadata: [String: String]
  /// Bytes of the whole file as the header describes it.
  public let expectedFileSize: Int

  /// Bytes per element of each safetensors dtype code.
  public static let elementSizes: [String: Int] = [
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
  ]

  /// The MLX dtype of a safetensors dtype code, when the engine supports it.
  public static func dtype(of code: String) -> DType? {
    switch code {
    case "BOOL": .bool
    case "U8": .uint8
    case "U32": .uint32
    case "I32": .int32
    case "I64": .int64
    case "F16": .float16
    case "BF16": .bfloat16
    case "F32": .float32
    default: nil
    }
  }

  private struct RawEntry: Decodable {
    var dtype: String
    var shape: [Int]
    var data_offsets: [Int]
  }

  private enum RawValue: Decodable {
    case entry(RawEntry)
    case metadata([String: String])

    init(from decoder: Decoder) throws {
      if let entry = try? RawEntry(from: decoder) {
        self = .entry(entry)
      } else {
        self = .metadata(try [String: String](from: decoder))
      }
    }
  }

  /// Reads and validates the header of `path`; every inconsistency is an error naming the file.
  public static func read(_ path: String) throws -> SafetensorsHeader {
    guard let fileSize = FileBytes.size(path) else { throw CheckpointError("\(path) does not exist") }
    guard fileSize >= 8, let prefix = try FileBytes.readRange(path, offset: 0, count: 8) else {
      throw CheckpointError("\(path) is truncated: \(fileSize) bytes is too short for a safetensors file")
    }
    let headerLength = prefix.enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
    guard headerLength > 0, headerLength <= 100_000_000, 8 + headerLength <= fileSize,
      let headerBytes = try FileBytes.readRange(path, offset: 8, count: headerLength)
    else {
      throw CheckpointError(
        "\(path) is not a valid safetensors file (header length \(headerLength), file size \(fileSize)): truncated or corrupt")
    }
    let raw: [String: RawValue]
    do {
      raw = try JSONDecoder().decode([String: RawValue].self, from: Data(headerBytes))
    } catch {
      throw CheckpointError("\(path) has a corrupt safetensors header (not valid JSON): \(error)")
    }

    var entries: [String: Entry] = [:]
    var metadata: [String: String] = [:]
    var dataEnd = 0
    for (name, value) in raw {
      switch value {
      case .metadata(let values) where name == "__metadata__": metadata = values
      case .metadata: throw CheckpointError("\(path): header entry \(name) is not a tensor description")
      case .entry(let entry):
        guard let elementSize = elementSizes[entry.dtype] else {
          throw CheckpointError("\(path): tensor \(name) has unknown dtype \(entry.dtype)")
        }
        guard entry.data_offsets.count == 2, entry.shape.allSatisfy({ $0 >= 0 }) else {
          throw CheckpointError("\(path): tensor \(name) has a malformed shape or data_offsets")
        }
        let (begin, end) = (entry.data_offsets[0], entry.data_offsets[1])
        let expected = entry.shape.reduce(1, *) * elementSize
        guard begin >= 0, end - begin == expected else {
          throw CheckpointError(
            "\(path): tensor \(name) (\(entry.dtype) \(entry.shape)) needs \(expected) bytes but its offsets span \(end - begin)")
        }
        entries[name] = Entry(dtype: entry.dtype, shape: entry.shape, begin: begin, end: end)
        dataEnd = Swift.max(dataEnd, end)
      }
    }
    let expectedFileSize = 8 + headerLength + dataEnd
    if fileSize < expectedFileSize {
      throw CheckpointError(
        "\(path) is truncated: the header describes \(expectedFileSize) bytes but the file has \(fileSize); download it again")
    }
    if fileSize > expectedFileSize {
      throw CheckpointError(
        "\(path) is corrupt: \(fileSize - expectedFileSize) bytes follow the last tensor the header describes")
    }
    return SafetensorsHeader(path: path, entries: entries, metadata: metadata, expectedFileSize: expectedFileSize)
  }
}
