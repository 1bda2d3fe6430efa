/// A folder written under a hidden temporary name beside its target and renamed into place when complete, so an
/// interrupted write never leaves something that looks like a finished folder. Stale staging folders of dead
/// processes are removed the next time the same target is written.
public final class FolderStaging {
  public let target: String
  public let path: String
  private var committed = false

  /// Refuses an existing target unless `overwrite`.
  public init(target: String, overwrite: Bool) throws {
    guard !target.contains("\0"), !target.isEmpty else { throw CheckpointError("the output folder name is empty or contains a NUL byte") }
    let trimmed = target.hasSuffix("/") && target.count > 1 ? String(target.dropLast()) : target
    self.target = trimmed
    if FileBytes.exists(trimmed) && !overwrite {
      throw CheckpointError("\(trimmed) already exists: choose another folder or allow overwriting (--force)")
    }
    let (parent, name) = Self.split(trimmed)
    guard FileBytes.isDirectory(parent) else { throw CheckpointError("the folder \(parent) does not exist", kind: .notFound) }
    Self.removeStale(parent: parent, name: name)
    path = "\(parent)/.\(name).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    guard mkdir(path, 0o755) == 0 else {
      throw CheckpointError("cannot create \(path): \(String(cString: strerror(errno)))", kind: errno == ENOSPC ? .resourceExhausted : .invalidInput)
    }
  }

  deinit { if !committed { try? Self.removeTree(path) } }

  /// Moves the finished folder into place (replacing an existing target only after the new one is complete).
  public func commit() throws {
    var replaced: String?
    if FileBytes.exists(target) {
      let (parent, name) = Self.split(target)
      let aside = "\(parent)/.\(name).old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
      guard rename(target, aside) == 0 else { throw CheckpointError("cannot move \(target) aside: \(String(cString: strerror(errno)))") }
      replaced = aside
    }
    guard rename(path, target) == 0 else {
      let reason = String(cString: strerror(errno))
      if let replaced { _ = rename(replaced, target) }
      throw CheckpointError("cannot move \(path) to \(target): \(reason)")
    }
    committed = true
    if let replaced { try? Self.removeTree(replaced) }
  }

  public static func split(_ path: String) -> (parent: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let parent = String(path[..<slash])
    return (parent.isEmpty ? "/" : parent, String(path[path.index(after: slash)...]))
  }

  /// Staging and set-aside folders of `name` left by processes that no longer run.
  static func removeStale(parent: String, name: String) {
    guard let entries = try? FileBytes.listDirectory(parent) else { return }
    for entry in entries where entry.hasPrefix(".\(name).partial-") || entry.hasPrefix(".\(name).old-") {
      let rest = entry.split(separator: "-").dropFirst().first.map(String.init) ?? ""
      guard let pid = Int32(rest), pid > 0, kill(pid, 0) != 0, errno == ESRCH else { continue }
      try? removeTree("\(parent)/\(entry)")
    }
  }

  public static func removeTree(_ path: String) throws {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
      for name in try FileBytes.listDirectory(path) { try removeTree(path + "/" + name) }
      guard rmdir(path) == 0 else { throw CheckpointError("cannot remove \(path): \(String(cString: strerror(errno)))") }
    } else {
      guard unlink(path) == 0 else { throw CheckpointError("cannot remove \(path): \(String(cString: strerror(errno)))") }
    }
  }
}

/// Tensors grouped into shard files of at most `maxShardBytes` (in key order), named like the release:
/// `stem.safetensors` for one file, else `stem-0000i-of-0000n.safetensors` plus `stem.safetensors.index.json`.
/// A unit of tensors (a quantized weight with its scales and biases) always lands in one shard.
public struct ShardLayout {
  public let shards: [(name: String, tensors: [SafetensorsWriter.Tensor])]
  public let stem: String

  public init(tensors: [SafetensorsWriter.Tensor], stem: String, maxShardBytes: Int) {
    self.init(units: tensors.map { [$0] }, stem: stem, maxShardBytes: maxShardBytes)
  }

  public init(units: [[SafetensorsWriter.Tensor]], stem: String, maxShardBytes: Int) {
    var groups: [[SafetensorsWriter.Tensor]] = [[]]
    var size = 0
    for unit in units.filter({ !$0.isEmpty }).sorted(by: { $0[0].key < $1[0].key }) {
      let bytes = unit.reduce(0) { $0 + $1.byteCount }
      if size + bytes > maxShardBytes && !groups[groups.count - 1].isEmpty {
        groups.append([])
        size = 0
      }
      groups[groups.count - 1] += unit
      size += bytes
    }
    func pad(_ n: Int) -> String { String(repeating: "0", count: Swift.max(0, 5 - String(n).count)) + String(n) }
    shards = groups.enumerated().map { index, group in
      (groups.count == 1 ? "\(stem).safetensors" : "\(stem)-\(pad(index + 1))-of-\(pad(groups.count)).safetensors", group)
    }
    self.stem = stem
  }

  /// The index file's contents, or nil for a single file.
  public func index() throws -> [UInt8]? {
    guard shards.count > 1 else { return nil }
    var map: [String: JSONValue] = [:]
    var total = 0
    for shard in shards {
      for tensor in shard.tensors {
        map[tensor.key] = .string(shard.name)
        total += tensor.byteCount
      }
    }
    return try JSONValue.encodePretty(JSONValue.object([
      "metadata": .object(["total_size": .integer(total)]), "weight_map": .object(map),
    ]))
  }

  public var indexName: String { "\(stem).safetensors.index.json" }
}
