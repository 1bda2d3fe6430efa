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

  init(_ message: Nucleus__Engine__V1__LoadModelRequest, raw: [UInt8]) throws {
    try self.init(
      modelDirectory: Self.directory(string(message.model_dir), raw: raw, field: 1, name: "model_dir"),
      options: message.options?.pointee)
  }

  init(modelDirectory: String, options: Nucleus__Engine__V1__LoadOptions?) throws {
    self.modelDirectory = modelDirectory
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
      guard options.n_components <= 16 else { throw RPCError(.invalidArgument, "options.components lists \(options.n_components) entries; name at most the 3 components") }
      components = (0..<options.n_components).map { string(options.components[$0]) }
    }
    for component in components where !Self.knownComponents.contains(component) {
      throw RPCError(.invalidArgument, "unknown component '\(component.prefix(100))': use transformer, vae or text_encoder")
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
      func require(_ name: String, _ folder: String?) throws -> String? {
        guard components.contains(name) else { return nil }
        guard let folder else { throw RPCError(.notFound, "\(modelDirectory) has no \(name)/ folder") }
        return folder
      }
      textEncoderDirectory = try require("text_encoder", folders.textEncoder)
      transformerDirectory = try require("transformer", folders.transformer)
      vaeDirectory = try require("vae", folders.vae)
    }
  }

  /// A folder path from a request: no NUL byte (protobuf-c would cut the path there), made absolute.
  static func directory(_ value: String, raw: [UInt8], field: Int, name: String) throws -> String {
    guard !ProtoWire.stringField(field, containsNULIn: raw) else {
      throw RPCError(.invalidArgument, "\(name) contains a NUL byte: give a plain folder path")
    }
    guard !value.isEmpty else { throw RPCError(.invalidArgument, "\(name) is empty: give the model folder") }
    guard value.utf8.count <= 4096 else { throw RPCError(.invalidArgument, "\(name) is longer than 4096 bytes") }
    return value
  }

  /// The component folders `<dir>/transformer`, `<dir>/vae` and `<dir>/text_encoder` (or `<dir>` itself when it is
  /// a transformer folder).
  static func locateComponents(_ directory: String) throws -> (transformer: String?, vae: String?, textEncoder: String?) {
    var info = stat()
    guard stat(directory, &info) == 0 else { throw RPCError(.notFound, "model folder \(directory) does not exist") }
    guard (info.st_mode & S_IFMT) == S_IFDIR else {
      throw RPCError(.invalidArgument, "\(directory) is a file, not a model folder: give the folder that holds transformer/, vae/ and text_encoder/")
    }
    let vae = isFolder(directory + "/vae") ? directory + "/vae" : nil
    let text = isFolder(directory + "/text_encoder") ? directory + "/text_encoder" : nil
    if isFolder(directory + "/transformer") { return (directory + "/transformer", vae, text) }
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

  var transformerQuantization: QuantizationChoice {
    QuantizationChoice(linear: linearQuantization, experts: expertQuantization)
  }

  var textEncoderQuantization: QuantizationChoice { QuantizationChoice(linear: textQuantization) }

  /// "none", "8-bit linears (group 64), 4-bit experts (group 64)", ...
  static func describe(_ record: QuantizationRecord?) -> String {
    guard let record, record.linear != nil || record.experts != nil else { return "none" }
    var parts: [String] = []
    if let linear = record.linear { parts.append("\(linear.bits)-bit linears (group \(linear.groupSize))") }
    if let experts = record.experts { parts.append("\(experts.bits)-bit experts (group \(experts.groupSize))") }
    return parts.joined(separator: ", ")
  }
}

/// The dtypes a component loads with: weights stored as asked (else as in the checkpoint), computed in the same
/// dtype on GPUs; MLX's CPU backend has fast kernels for float32 only, so there the computation runs in float32
/// from the stored weights (bf16 storage halves resident memory at a small cast cost).
func loadDTypes(requested: DType?, folder: ComponentFolder) -> (compute: DType, storage: DType) {
  let storage = requested ?? folder.floatingDType
  return (Device.backend == "cpu" ? .float32 : storage, storage)
}
