import CEngineProto
import MLX
import NucleusModels

extension EngineService {
  func decode(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(request, "DecodeRequest", nucleus__engine__v1__decode_request__unpack)
    let message = decoded.message
    guard let vae = registry.vae else {
      throw RPCError(.failedPrecondition, "no VAE is loaded: call LoadModel on a folder with a vae/ component first")
    }
    let decoder = vae.decoder
    var latents = try TensorCoding.require(message.latents, field: "latents")
    if latents.ndim == 3 && latents.shape[0] == 1 { latents = try latents.squeezed(axes: [0]) }
    guard latents.ndim == 2, latents.dtype.isFloatingPoint else {
      throw RPCError(.invalidArgument, "latents must be a float tensor [S, C] or [1, S, C], not \(latents.dtype) \(latents.shape)")
    }
    let (tokens, channels) = (latents.shape[0], latents.shape[1])
    let packedWidth = decoder.config.zDim * 4
    guard channels == packedWidth else {
      throw RPCError(
        .invalidArgument,
        "latents have \(channels) channels per token; this VAE decodes packed latents of \(packedWidth) (z_dim \(decoder.config.zDim) × 2×2)")
    }
    let (h, w) = (Int(message.grid_height), Int(message.grid_width))
    guard h > 0, w > 0, h * w == tokens else {
      throw RPCError(.invalidArgument, "grid \(h)×\(w) has \(h * w) tokens but the latents have S = \(tokens)")
    }
    try MemoryBudget.check(
      needed: MemoryBudget.decodeBytes(config: decoder.config, dtype: decoder.dtype, gridHeight: h, gridWidth: w),
      what: "decoding a \(w * 2 * decoder.config.scaleFactor)×\(h * 2 * decoder.config.scaleFactor) image",
      advice: "decode a smaller image or raise the memory limit")

    return try compute {
      let started = monotonicSeconds()
      let image = try decoder(packed: latents.reshaped(1, tokens, channels), gridHeight: h, gridWidth: w)
      let rgb = try VAEDecoder.toRGB8(image).squeezed(axes: [0])
      var outputs = [rgb]
      var floatImage: MLXArray?
      if message.float_output != 0 {
        floatImage = try image.squeezed(axes: [0]).transposed(2, 0, 1).asType(.float32)
        outputs.append(floatImage!)
      }
      try eval(outputs)
      let arena = CArena()
      var response = Nucleus__Engine__V1__DecodeResponse()
      nucleus__engine__v1__decode_response__init(&response)
      response.image = try TensorCoding.encode(rgb, arena: arena)
      if let floatImage { response.float_image = try TensorCoding.encode(floatImage, arena: arena) }
      response.compute_seconds = monotonicSeconds() - started
      return packMessage(&response)
    }
  }
}
