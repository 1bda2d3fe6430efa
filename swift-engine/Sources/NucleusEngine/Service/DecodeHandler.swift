import CEngineProto
import MLX
import MLXNN
import NucleusModels

extension EngineService {
  func decode(_ request: [UInt8], _ call: RPCCall) throws -> [UInt8]? {
    let decoded = try unpackMessage(call, "DecodeRequest", nucleus__engine__v1__decode_request__unpack)
    let message = decoded.message
    let (h, w) = try checkedLatentsRequest(message.latents, gridHeight: message.grid_height, gridWidth: message.grid_width)
    try container.perform { loaded in
      guard let vae = loaded.vae else {
        throw RPCError(.failedPrecondition, "no VAE is loaded: call LoadModel on a folder with a vae/ component first")
      }
      let decoder = vae.decoder
      let zDim = decoder.config.zDim
      let latents = try TensorCoding.packedLatents(
        message.latents, gridHeight: h, gridWidth: w, channels: zDim * 4, what: "this VAE",
        channelsMeaning: "packed latents of z_dim \(zDim) × 2×2").latents
      let (tokens, channels) = (latents.shape[0], latents.shape[1])
      try MemoryBudget.check(
        needed: MemoryBudget.sum(
          MemoryBudget.decodeBytes(config: decoder.config, dtype: decoder.dtype, gridHeight: h, gridWidth: w),
          MemoryBudget.weightTransientBytes(decoder.parameters().map(\.parameter), computeDType: decoder.dtype)),
        what: "decoding a \(w * 2 * decoder.config.scaleFactor)×\(h * 2 * decoder.config.scaleFactor) image",
        advice: "decode a smaller image or raise the memory limit")

      let started = monotonicSeconds()
      try InjectedFailure.raise(in: "Decode")
      let image = try decoder(packed: latents.reshaped(1, tokens, channels), gridHeight: h, gridWidth: w)
      let rgb = try VAEDecoder.toRGB8(image).squeezed(axes: [0])
      var outputs = [rgb]
      var floatImage: MLXArray?
      if message.float_output != 0 {
        floatImage = try image.squeezed(axes: [0]).transposed(2, 0, 1).asType(.float32)
        outputs.append(floatImage!)
      }
      try eval(outputs + [image])
      guard try image.allFinite() else {
        throw NonFiniteOutput.error(what: "the VAE decoder", step: "decoding a \(h)×\(w) grid", inputs: [("latents", latents)])
      }
      let arena = CArena()
      var response = Nucleus__Engine__V1__DecodeResponse()
      nucleus__engine__v1__decode_response__init(&response)
      response.image = try TensorCoding.encode(rgb, arena: arena)
      if let floatImage { response.float_image = try TensorCoding.encode(floatImage, arena: arena) }
      response.compute_seconds = monotonicSeconds() - started
      call.packResponse(&response)
    }
    call.finishWithPackedResponse()
    return nil
  }
}
