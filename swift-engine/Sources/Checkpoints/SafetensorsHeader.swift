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
  /// Where tensor data starts in the file (entries' offsets are relative to it).
  public let dataOffset: Int

  /// The absolute file offset of `entry`'s first byte.
  public func fileOffset(of entry: Entry) -> Int { dataOffset + entry.begin }

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

  /// The largest header we read (the release's biggest is under 100 KB).
  static let maxHeaderBytes = 100_000_000

  /// Reads and validates the header of `path`; every inconsistency is an error naming the file (never its
  /// contents: a client must not learn bytes of a file it could not read itself).
  public static func read(_ path: String) throws -> SafetensorsHeader {
    guard let fileSize = try FileBytes.regularFileSize(path) else { throw CheckpointError("\(path) does not exist", kind: .notFound) }
    guard fileSize >= 8, let prefix = try FileBytes.readRange(path, offset: 0, count: 8) else {
      throw CheckpointError("\(path) is truncated: \(fileSize) bytes is too short for a safetensors file")
    }
    let headerLength = prefix.enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
    guard headerLength > 0, headerLength <= UInt64(maxHeaderBytes), 8 + Int(headerLength) <= fileSize,
      let headerBytes = try FileBytes.readRange(path, offset: 8, count: Int(headerLength))
    else {
      throw CheckpointError("\(path) is not a valid safetensors file (its header length does not fit the file): truncated or corrupt")
    }
    let raw: [String: RawValue]
    do {
      raw = try JSONDecoder().decode([String: RawValue].self, from: Data(headerBytes))
    } catch {
      throw CheckpointError("\(path) has a corrupt safetensors header (not valid JSON)")
    }

    var entries: [String: Entry] = [:]
    var metadata: [String: String] = [:]
    var dataEnd = 0
    for (name, value) in raw {
      let shownName = name.count > 200 ? String(name.prefix(200)) + "…" : name
      switch value {
      case .metadata(let values) where name == "__metadata__": metadata = values
      case .metadata: throw CheckpointError("\(path): header entry \(shownName) is not a tensor description")
      case .entry(let entry):
        guard let elementSize = elementSizes[entry.dtype] else {
          throw CheckpointError("\(path): tensor \(shownName) has an unknown dtype")
        }
        guard entry.data_offsets.count == 2, entry.shape.count <= 8,
          let elements = Checked.product(entry.shape), let expected = Checked.multiply(elements, elementSize)
        else {
          throw CheckpointError("\(path): tensor \(shownName) has a malformed or impossibly large shape")
        }
        let (begin, end) = (entry.data_offsets[0], entry.data_offsets[1])
        guard begin >= 0, end >= begin, end - begin == expected, end <= fileSize else {
          throw CheckpointError("\(path): tensor \(shownName) has data offsets that do not match its shape and the file")
        }
        entries[name] = Entry(dtype: entry.dtype, shape: entry.shape, begin: begin, end: end)
        dataEnd = Swift.max(dataEnd, end)
      }
    }
    let dataOffset = 8 + Int(headerLength)
    let expectedFileSize = dataOffset + dataEnd
    if fileSize < expectedFileSize {
      throw CheckpointError(
        "\(path) is truncated: the header describes \(expectedFileSize) bytes but the file has \(fileSize); download it again")
    }
    if fileSize > expectedFileSize {
      throw CheckpointError(
        "\(path) is corrupt: \(fileSize - expectedFileSize) bytes follow the last tensor the header describes")
    }
    return SafetensorsHeader(
      path: path, entries: entries, metadata: metadata, expectedFileSize: expectedFileSize, dataOffset: dataOffset)
  }
}
