#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// One component of a checkpoint in the diffusers/transformers layout (e.g. `transformer/`): `config.json` plus
/// either one `*.safetensors` file or shards listed by a `*.safetensors.index.json`. Opening it validates every
/// file the index references before anything is computed.
public struct ComponentFolder: Sendable {
  public let directory: String
  public let configBytes: [UInt8]
  /// The shards' validated headers, by file name.
  public let shards: [String: SafetensorsHeader]
  /// Tensor name -> shard file name (from the index, or every tensor of the single file).
  public let weightMap: [String: String]
  /// The stem the files are named after ("diffusion_pytorch_model", "model").
  public let fileStem: String

  /// Bytes of all tensor data.
  public var tensorBytes: Int {
    weightMap.reduce(0) { total, item in total + (shards[item.value]?.entries[item.key]?.byteCount ?? 0) }
  }

  public func path(of file: String) -> String { directory + "/" + file }

  public func decodeConfig<T: Decodable>(_ type: T.Type) throws -> T {
    do {
      return try JSONDecoder().decode(type, from: Data(configBytes))
    } catch {
      throw CheckpointError("\(directory)/config.json does not describe a \(type): \(describeDecodingProblem(error))")
    }
  }

  public var config: JSONValue {
    get throws { try decodeConfig(JSONValue.self) }
  }

  public static func open(_ directory: String) throws -> ComponentFolder {
    guard FileBytes.isDirectory(directory) else {
      throw CheckpointError(
        "\(directory) is not a folder: expected a checkpoint component folder with config.json",
        kind: FileBytes.exists(directory) ? .invalidInput : .notFound)
    }
    let configPath = directory + "/config.json"
    guard FileBytes.exists(configPath) else { throw CheckpointError("\(configPath) is missing", kind: .notFound) }
    let configBytes = try FileBytes.readFile(configPath)
    let names = try FileBytes.listDirectory(directory)
    let indexes = names.filter { $0.hasSuffix(".safetensors.index.json") }

    var weightMap: [String: String] = [:]
    let shardNames: [String]
    let fileStem: String
    switch indexes.count {
    case 1:
      fileStem = String(indexes[0].dropLast(".safetensors.index.json".count))
      weightMap = try readIndex(directory + "/" + indexes[0])
      shardNames = Array(Set(weightMap.values)).sorted()
    case 0:
      let files = names.filter { $0.hasSuffix(".safetensors") }
      guard files.count == 1 else {
        throw CheckpointError(
          files.isEmpty
            ? "\(directory) holds no .safetensors file"
            : "\(directory) holds \(files.count) .safetensors files but no .safetensors.index.json naming them")
      }
      fileStem = String(files[0].dropLast(".safetensors".count))
      shardNames = files
    default:
      throw CheckpointError("\(directory) holds several index files (\(indexes.joined(separator: ", "))): keep one")
    }

    var shards: [String: SafetensorsHeader] = [:]
    for name in shardNames {
      guard isPlainFileName(name) else {
        throw CheckpointError("\(directory)/\(indexes.first ?? ""): shard '\(String(name.prefix(100)))' is not a file name inside the folder")
      }
      let path = directory + "/" + name
      guard FileBytes.exists(path) else {
        throw CheckpointError("\(path) is missing: the index \(indexes.first ?? "") references it")
      }
      shards[name] = try SafetensorsHeader.read(path)
    }

    if indexes.isEmpty {
      for key in shards[shardNames[0]]!.entries.keys { weightMap[key] = shardNames[0] }
    } else {
      let absent = weightMap.filter { shards[$0.value]?.entries[$0.key] == nil }.map { "\($0.key) (in \($0.value))" }
      guard absent.isEmpty else {
        throw CheckpointError("\(directory): the index places tensors in shards that do not contain them: \(summarized(absent.sorted()))")
      }
      let unlisted = shards.flatMap { shard, header in header.entries.keys.filter { weightMap[$0] != shard } }
      guard unlisted.isEmpty else {
        throw CheckpointError("\(directory): shards contain tensors the index does not place there: \(summarized(unlisted.sorted()))")
      }
    }
    return ComponentFolder(
      directory: directory, configBytes: configBytes, shards: shards, weightMap: weightMap, fileStem: fileStem)
  }

  /// A shard named by an index must be a file of the folder itself: no path separators, no "." or "..".
  static func isPlainFileName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
  }

  private struct Index: Decodable {
    var weight_map: [String: String]
  }

  private static func readIndex(_ path: String) throws -> [String: String] {
    do {
      return try JSONDecoder().decode(Index.self, from: Data(FileBytes.readFile(path))).weight_map
    } catch let error as CheckpointError {
      throw error
    } catch {
      throw CheckpointError("\(path) is not a valid safetensors index (it needs a weight_map of tensor name to file name)")
    }
  }
}
