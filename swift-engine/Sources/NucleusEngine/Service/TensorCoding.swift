import CEngineProto
import MLX

/// proto Tensor <-> MLXArray. Bad dtypes, shapes or byte counts are INVALID_ARGUMENT errors naming the field.
enum TensorCoding {
  static func dtype(_ value: Nucleus__Engine__V1__DType) -> DType? {
    switch value {
    case NUCLEUS__ENGINE__V1__DTYPE__DTYPE_FLOAT32: .float32
    case NUCLEUS__ENGINE__V1__DTYPE__DTYPE_BFLOAT16: .bfloat16
    case NUCLEUS__ENGINE__V1__DTYPE__DTYPE_FLOAT16: .float16
    case NUCLEUS__ENGINE__V1__DTYPE__DTYPE_INT32: .int32
    case NUCLEUS__ENGINE__V1__DTYPE__DTYPE_UINT32: .uint32
    case NUCLEUS__ENGINE__V1__DTYPE__DTYPE_UINT8: .uint8
    case NUCLEUS__ENGINE__V1__DTYPE__DTYPE_BOOL: .bool
    default: nil
    }
  }

  static func protoDType(_ dtype: DType) -> Nucleus__Engine__V1__DType {
    switch dtype {
    case .float32: NUCLEUS__ENGINE__V1__DTYPE__DTYPE_FLOAT32
    case .bfloat16: NUCLEUS__ENGINE__V1__DTYPE__DTYPE_BFLOAT16
    case .float16: NUCLEUS__ENGINE__V1__DTYPE__DTYPE_FLOAT16
    case .int32: NUCLEUS__ENGINE__V1__DTYPE__DTYPE_INT32
    case .uint32: NUCLEUS__ENGINE__V1__DTYPE__DTYPE_UINT32
    case .uint8: NUCLEUS__ENGINE__V1__DTYPE__DTYPE_UINT8
    case .bool: NUCLEUS__ENGINE__V1__DTYPE__DTYPE_BOOL
    case .int64: NUCLEUS__ENGINE__V1__DTYPE__DTYPE_UNSPECIFIED
    }
  }

  /// The tensor in `field`, or nil when the field is absent.
  static func decode(_ tensor: UnsafeMutablePointer<Nucleus__Engine__V1__Tensor>?, field: String) throws -> MLXArray? {
    guard let tensor else { return nil }
    guard let type = dtype(tensor.pointee.dtype) else {
      throw RPCError(.invalidArgument, "\(field) has no valid dtype (set float32, bfloat16, float16, int32, uint32, uint8 or bool)")
    }
    let shape = (0..<tensor.pointee.n_shape).map { Int(tensor.pointee.shape[$0]) }
    guard shape.allSatisfy({ $0 >= 0 && $0 <= Int(Int32.max) }) else {
      throw RPCError(.invalidArgument, "\(field) has an invalid shape \(shape)")
    }
    let count = shape.reduce(1, *)
    let expected = count * type.size
    let data = tensor.pointee.data
    guard data.len == expected else {
      throw RPCError(
        .invalidArgument,
        "\(field) holds \(data.len) bytes but a \(type) tensor of shape \(shape) needs \(expected)")
    }
    // Bytes that protobuf-c decoded into MLX's memory (see messageAllocator) become the array's storage as they
    // are; the field lets go of them so the message does not free them.
    if let pointer = data.data, data.len > 0,
      let array = try? MLXArray.adopting(UnsafeMutableRawPointer(pointer), dtype: type, shape: shape)
    {
      tensor.pointee.data = ProtobufCBinaryData(len: 0, data: nil)
      return array
    }
    do {
      return try MLXArray(bytes: UnsafeRawBufferPointer(start: data.data, count: data.len), dtype: type, shape: shape)
    } catch {
      throw RPCError(.invalidArgument, "\(field): \(error)")
    }
  }

  static func require(_ tensor: UnsafeMutablePointer<Nucleus__Engine__V1__Tensor>?, field: String) throws -> MLXArray {
    guard let array = try decode(tensor, field: field) else { throw RPCError(.invalidArgument, "\(field) is missing") }
    return array
  }

  /// A proto Tensor holding `array` (evaluated), owned by `arena`: its data points at the array's own bytes (the
  /// arena keeps the array alive), so packing the message is the only copy.
  static func encode(_ array: MLXArray, arena: CArena) throws -> UnsafeMutablePointer<Nucleus__Engine__V1__Tensor> {
    let (dense, bytes) = try array.contiguousBytes()
    arena.retain(dense)
    return encode(bytes: bytes, dtype: array.dtype, shape: array.shape, arena: arena)
  }

  /// INVALID_ARGUMENT when the float tensor in `field` holds NaN or infinite values.
  static func checkFinite(_ tensor: UnsafeMutablePointer<Nucleus__Engine__V1__Tensor>?, field: String) throws {
    guard let tensor, let type = dtype(tensor.pointee.dtype) else { return }
    let bytes = UnsafeRawBufferPointer(start: tensor.pointee.data.data, count: tensor.pointee.data.len)
    guard FloatBytes.allFinite(bytes, dtype: type) else { throw RPCError(.invalidArgument, "\(field) contain NaN or infinite values") }
  }

  /// A proto Tensor of `dtype` and `shape` whose data points at `bytes` (which the caller keeps alive, e.g. by
  /// retaining their array in `arena`).
  static func encode(bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], arena: CArena) -> UnsafeMutablePointer<Nucleus__Engine__V1__Tensor> {
    var tensor = Nucleus__Engine__V1__Tensor()
    nucleus__engine__v1__tensor__init(&tensor)
    tensor.dtype = protoDType(dtype)
    tensor.n_shape = shape.count
    tensor.shape = arena.array(shape.map(Int64.init))
    tensor.data = ProtobufCBinaryData(
      len: bytes.count, data: UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)))
    return arena.object(tensor)
  }

  /// Packed latents [S, C] (or [1, S, C]) on an h × w token grid, checked: a float tensor, C = `channels` (what
  /// `what` takes, explained by `channelsMeaning`), S = h·w. `hadBatchAxis` tells whether a leading 1 was given.
  static func packedLatents(
    _ tensor: UnsafeMutablePointer<Nucleus__Engine__V1__Tensor>?, gridHeight h: Int, gridWidth w: Int, channels: Int,
    what: String, channelsMeaning: String
  ) throws -> (latents: MLXArray, hadBatchAxis: Bool) {
    var latents = try require(tensor, field: "latents")
    let hadBatchAxis = latents.ndim == 3 && latents.shape[0] == 1
    if hadBatchAxis { latents = try latents.squeezed(axes: [0]) }
    guard latents.ndim == 2, latents.dtype.isFloatingPoint else {
      throw RPCError(.invalidArgument, "latents must be a float tensor [S, C] or [1, S, C], not \(latents.dtype) \(latents.shape)")
    }
    let (tokens, width) = (latents.shape[0], latents.shape[1])
    guard width == channels else {
      throw RPCError(.invalidArgument, "latents have \(width) channels per token; \(what) takes \(channels) (\(channelsMeaning))")
    }
    guard h > 0, w > 0, h * w == tokens else {
      throw RPCError(.invalidArgument, "grid \(h)×\(w) has \(h * w) tokens but the latents have S = \(tokens)")
    }
    return (latents, hadBatchAxis)
  }
}
