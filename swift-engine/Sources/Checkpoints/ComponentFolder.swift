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
      throw CheckpointError("\(directory)/config.json does not describe a \(type): \(error)")
    }
  }

  public var config: JSONValue {
    get throws { try decodeConfig(JSONValue.self) }
  }

  public static func open(_ directory: String) throws -> ComponentFolder {
    guard FileBytes.isDirectory(directory) else {
      throw CheckpointError("\(directory) is not a folder: expected a checkpoint component folder with config.json")
    }
    let configPath = directory + "/config.json"
    guard FileBytes.size(configPath) != nil else { throw CheckpointError("\(configPath) is missing") }
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
      let path = directory + "/" + name
      guard FileBytes.size(path) != nil else {
        throw CheckpointError("\(path) is missing: the index \(indexes.first ?? "") references it")
      }
      shards[name] = try SafetensorsHeader.read(path)
    }

    if indexes.isEmpty {
      for key in shards[shardNames[0]]!.entries.keys { weightMap[key] = shardNames[0] }
    } else {
      for (key, shard) in weightMap where shards[shard]?.entries[key] == nil {
        throw CheckpointError("\(directory)/\(shard) does not contain \(key), which the index places there")
      }
      for (shard, header) in shards {
        for key in header.entries.keys where weightMap[key] != shard {
          throw CheckpointError("\(directory)/\(shard) contains \(key), which the index does not place there")
        }
      }
    }
    return ComponentFolder(
      directory: directory, configBytes: configBytes, shards: shards, weightMap: weightMap, fileStem: fileStem)
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
      throw CheckpointError("\(path) is not a valid safetensors index (needs a weight_map): \(error)")
    }
  }
}
