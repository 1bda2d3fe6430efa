#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import CMLXBridge

/// The tensors and metadata of one safetensors file. Loading is lazy: bytes are read when a tensor is evaluated.
public struct SafetensorsContents: @unchecked Sendable {
  public var arrays: [String: MLXArray]
  public var metadata: [String: String]
}

/// Opens a safetensors file with MLX's loader (lazily). MLX does not check sizes against the file: validate a
/// file first (the engine's checkpoint validator does) when it may be truncated.
public func loadSafetensors(path: String) throws -> SafetensorsContents {
  var out: mlxb_tensor_file?
  try check(mlxb_load_safetensors(path, &out))
  guard let file = out else { throw MLXError("the MLX bridge returned no tensor file") }
  defer { mlxb_tensor_file_free(file) }
  var arrays: [String: MLXArray] = [:]
  for index in 0..<mlxb_tensor_file_count(file) {
    let name = String(cString: mlxb_tensor_file_name(file, index))
    arrays[name] = try produce { mlxb_tensor_file_array(file, index, $0) }
  }
  var metadata: [String: String] = [:]
  for index in 0..<mlxb_tensor_file_metadata_count(file) {
    metadata[String(cString: mlxb_tensor_file_metadata_key(file, index))] =
      String(cString: mlxb_tensor_file_metadata_value(file, index))
  }
  return SafetensorsContents(arrays: arrays, metadata: metadata)
}

/// Writes `arrays` (evaluating them) and string `metadata` to a safetensors file.
public func saveSafetensors(path: String, arrays: [String: MLXArray], metadata: [String: String] = [:]) throws {
  let names = Array(arrays.keys).sorted()
  let values = names.map { arrays[$0]! }
  let keys = Array(metadata.keys).sorted()
  let texts = keys.map { metadata[$0]! }
  try withExtendedLifetime(values) {
    try withCStrings(names) { namePointers in
      try withCStrings(keys) { keyPointers in
        try withCStrings(texts) { textPointers in
          let list = handles(values)
          try list.withUnsafeBufferPointer { arrayHandles in
            try check(
              mlxb_save_safetensors(
                path, namePointers, arrayHandles.baseAddress, values.count, keyPointers, textPointers, keys.count))
          }
        }
      }
    }
  }
}

/// Passes `strings` as a C array of C strings valid for the duration of `body`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws -> R) rethrows
  -> R
{
  let duplicated = strings.map { UnsafePointer(strdup($0)) }
  defer { duplicated.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
  return try duplicated.withUnsafeBufferPointer { try body($0.baseAddress) }
}
