import CEngineProto

extension EngineService {
  func attachSharedMemory(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "AttachSharedMemoryRequest", nucleus__engine__v1__attach_shared_memory_request__unpack)
    let (id, size) = try sharedMemory.attach(path: string(decoded.message.path))
    var response = Nucleus__Engine__V1__AttachSharedMemoryResponse()
    nucleus__engine__v1__attach_shared_memory_response__init(&response)
    response.buffer = id
    response.size_bytes = UInt64(size)
    return packMessage(&response)
  }

  func detachSharedMemory(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "DetachSharedMemoryRequest", nucleus__engine__v1__detach_shared_memory_request__unpack)
    var response = Nucleus__Engine__V1__DetachSharedMemoryResponse()
    nucleus__engine__v1__detach_shared_memory_response__init(&response)
    response.detached = sharedMemory.detach(decoded.message.buffer) ? 1 : 0
    return packMessage(&response)
  }

  /// The token grid and the latents of a Denoise or Decode request, checked before anything is computed: the grid's
  /// size, the latents read from shared memory when they name a slice, their shape and their finiteness.
  func checkedLatentsRequest(
    _ latents: UnsafeMutablePointer<Nucleus__Engine__V1__Tensor>?, gridHeight: UInt32, gridWidth: UInt32
  ) throws -> (height: Int, width: Int) {
    let (h, w) = (Int(gridHeight), Int(gridWidth))
    try TensorBounds.checkGrid(height: h, width: w)
    try sharedMemory.fill(latents, field: "latents")
    try TensorBounds.check(latents, field: "latents")
    try TensorCoding.checkFinite(latents, field: "latents")
    return (h, w)
  }
}
