import CEngineProto
import Checkpoints
import MLX
import MLXNN
import NucleusModels

/// A LoadModel request, checked: which folder, which components, dtype and quantization.
struct LoadRequest {
  static let knownComponents = ["transformer", "vae", "text_encoder"]

  var modelDirectory: String
  var transformerDirectory: String?
  var vaeDirectory: String?
  var textEncoderDirectory: String?
  var textQuantization: QuantizationSpec?
  /// Python-style index into the text encoder's hidden states (the pipeline's −8 unless asked otherwise).
  var textHiddenLayer = -8
  var unloadTextEncoderAfterEncode = false
  var dtype: DType?
  var linearQuantization: QuantizationSpec?
  var expertQuantization: QuantizationSpec?
  var memoryLimit: UInt64

  init(_ message: Nucleus__Engine__V1__LoadModelRequest) throws {
    modelDirectory = string(message.model_dir)
    guard !modelDirectory.isEmpty else { throw RPCError(.invalidArgument, "model_dir is empty: give the model folder") }
    let options = message.options?.pointee
    memoryLimit = options?.memory_limit_bytes ?? 0

    if let code = options?.dtype, code != NUCLEUS__ENGINE__V1__DTYPE__DTYPE_UNSPECIFIED {
      guard let type = TensorCoding.dtype(code), type.isFloatingPoint else {
        throw RPCError(.invalidArgument, "options.dtype must be float32, bfloat16 or float16")
      }
      dtype = type
    }
    linearQuantization = try Self.quantization(options?.transformer, field: "options.transformer")
    textQuantization = try Self.quantization(options?.text_encoder, field: "options.text_encoder")
    if let layer = options?.text_encoder_hidden_layer, layer != 0 { textHiddenLayer = Int(layer) }
    unloadTextEncoderAfterEncode = (options?.unload_text_encoder_after_encode ?? 0) != 0
    expertQuantization = try Self.quantization(options?.experts, field: "options.experts")

    var components: [String] = []
    if let options {
      components = (0..<options.n_components).map { string(options.components[$0]) }
    }
    for component in components where !Self.knownComponents.contains(component) {
      throw RPCError(.invalidArgument, "unknown component '\(component)': use transformer, vae or text_encoder")
    }
    let folders = try Self.locateComponents(modelDirectory)
    if components.isEmpty {
      transformerDirectory = folders.transformer
      vaeDirectory = folders.vae
      textEncoderDirectory = folders.textEncoder
      guard transformerDirectory != nil || vaeDirectory != nil || textEncoderDirectory != nil else {
        throw RPCError(.notFound, "\(modelDirectory) has no transformer/, vae/ or text_encoder/ folder: point model_dir at a Nucleus-Image checkpoint folder")
      }
    } else {
      if components.contains("text_encoder") {
        guard let folder = folders.textEncoder else { throw RPCError(.notFound, "\(modelDirectory) has no text_encoder/ folder") }
        textEncoderDirectory = folder
      }
      if components.contains("transformer") {
        guard let folder = folders.transformer else { throw RPCError(.notFound, "\(modelDirectory) has no transformer/ folder") }
        transformerDirectory = folder
      }
      if components.contains("vae") {
        guard let folder = folders.vae else { throw RPCError(.notFound, "\(modelDirectory) has no vae/ folder") }
        vaeDirectory = folder
      }
    }
  }

  /// The component folders `<dir>/transformer`, `<dir>/vae` and `<dir>/text_encoder` (or `<dir>` itself when it is
  /// a transformer folder).
  static func locateComponents(_ directory: String) throws -> (transformer: String?, vae: String?, textEncoder: String?) {
    guard isFolder(directory) else { throw RPCError(.notFound, "model folder \(directory) does not exist") }
    let vae = isFolder(directory + "/vae") ? directory + "/vae" : nil
    let text = isFolder(directory + "/text_encoder") ? directory + "/text_encoder" : nil
    if isFolder(directory + "/transformer") { return (directory + "/transformer", vae, text) }
    var info = stat()
    if vae == nil && text == nil && stat(directory + "/config.json", &info) == 0 { return (directory, nil, nil) }
    return (nil, vae, text)
  }

  static func isFolder(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  static func quantization(_ message: UnsafeMutablePointer<Nucleus__Engine__V1__Quantization>?, field: String) throws
    -> QuantizationSpec?
  {
    guard let message, message.pointee.bits != 0 else { return nil }
    let bits = Int(message.pointee.bits)
    let group = message.pointee.group_size == 0 ? 64 : Int(message.pointee.group_size)
    guard bits == 4 || bits == 8 else { throw RPCError(.invalidArgument, "\(field).bits must be 0, 4 or 8, not \(bits)") }
    guard [32, 64, 128].contains(group) else {
      throw RPCError(.invalidArgument, "\(field).group_size must be 32, 64 or 128, not \(group)")
    }
    return QuantizationSpec(bits: bits, groupSize: group)
  }

  var plan: QuantizationPlan? {
    guard linearQuantization != nil || expertQuantization != nil else { return nil }
    return NucleusTransformer.quantizationPlan(linear: linearQuantization, experts: expertQuantization)
  }

  /// "none", "8-bit linears (group 64), 4-bit experts (group 64)", ...
  static func describe(_ record: QuantizationRecord?) -> String {
    guard let record, record.linear != nil || record.experts != nil else { return "none" }
    var parts: [String] = []
    if let linear = record.linear { parts.append("\(linear.bits)-bit linears (group \(linear.groupSize))") }
    if let experts = record.experts { parts.append("\(experts.bits)-bit experts (group \(experts.groupSize))") }
    return parts.joined(separator: ", ")
  }
}

/// Bytes the component will occupy once loaded in `dtype` with `plan`, from the validated headers alone.
func residentEstimate(
  _ folder: ComponentFolder, dtype: DType?, plan: QuantizationPlan?, include: ((String) -> Bool)?
) -> Int {
  var total = 0
  for (key, shard) in folder.weightMap where include?(key) ?? true {
    guard let entry = folder.shards[shard]?.entries[key] else { continue }
    let elements = entry.shape.reduce(1, *)
    let stored = SafetensorsHeader.dtype(of: entry.dtype)
    let element = (stored?.isFloatingPoint ?? false) ? (dtype ?? stored!).size : entry.byteCount / Swift.max(elements, 1)
    if let (_, spec) = plan?.spec(for: key, shape: entry.shape) {
      total += elements * spec.bits / 8 + 2 * (elements / spec.groupSize) * element
    } else {
      total += elements * element
    }
  }
  return total
}
