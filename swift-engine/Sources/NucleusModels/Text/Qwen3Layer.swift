import MLX
import MLXNN

/// Rotate-half RoPE tables for 1-D positions (Qwen3-VL's M-RoPE reduces to this for text: the three position rows
/// are equal). Angles are formed in float32 like transformers, then cast to the model dtype.
struct TextRotary {
  let cos: MLXArray  // [1, L, 1, Dh]
  let sin: MLXArray

  init(positions: [Int], headDim: Int, theta: Double, dtype: DType) throws {
    let half = headDim / 2
    let inverse = (0..<half).map { 1 / powf(Float(theta), Float(2 * $0) / Float(headDim)) }
    var cosines = [Float](repeating: 0, count: positions.count * headDim)
    var sines = cosines
    for (token, position) in positions.enumerated() {
      for j in 0..<half {
        let angle = Float(position) * inverse[j]
        let (c, s) = (Float(Darwin_or_Glibc_cos(Double(angle))), Float(Darwin_or_Glibc_sin(Double(angle))))
        cosines[token * headDim + j] = c
        cosines[token * headDim + j + half] = c
        sines[token * headDim + j] = s
        sines[token * headDim + j + half] = s
      }
    }
    cos = try MLXArray(cosines, [1, positions.count, 1, headDim]).asType(dtype)
    sin = try MLXArray(sines, [1, positions.count, 1, headDim]).asType(dtype)
  }

  /// x · cos + rotate_half(x) · sin, rotate_half(x) = [−x₂, x₁] for the halves x₁, x₂ of the head dimension.
  func apply(_ x: MLXArray) throws -> MLXArray {
    let halves = try x.split(parts: 2, axis: -1)
    let rotated = try concatenated([-halves[1], halves[0]], axis: -1)
    return try x * cos + rotated * sin
  }
}

/// One Qwen3 decoder layer: pre-norm attention (q/k per-head RMSNorm before RoPE, grouped KV heads) and a SwiGLU MLP.
final class Qwen3DecoderLayer {
  let inputNorm, postAttentionNorm: RMSNorm
  let qProj, kProj, vProj, oProj: any LinearLayer
  let qNorm, kNorm: RMSNorm
  let gateProj, upProj, downProj: any LinearLayer
  let heads, keyValueHeads, headDim: Int

  init(_ scope: WeightScope, config: TextEncoderConfig, quantization: QuantizationSpec?) throws {
    heads = config.numAttentionHeads
    keyValueHeads = config.numKeyValueHeads
    headDim = config.headDim
    let (d, eps) = (config.hiddenSize, Float(config.rmsNormEps))
    func linear(_ name: String, _ input: Int, _ output: Int) throws -> any LinearLayer {
      try loadLinear(scope.scope(name), inputDimensions: input, outputDimensions: output, bias: false, quantization: quantization)
    }
    inputNorm = try RMSNorm(scope.scope("input_layernorm"), dimensions: d, eps: eps)
    postAttentionNorm = try RMSNorm(scope.scope("post_attention_layernorm"), dimensions: d, eps: eps)
    qProj = try linear("self_attn.q_proj", d, heads * headDim)
    kProj = try linear("self_attn.k_proj", d, keyValueHeads * headDim)
    vProj = try linear("self_attn.v_proj", d, keyValueHeads * headDim)
    oProj = try linear("self_attn.o_proj", heads * headDim, d)
    qNorm = try RMSNorm(scope.scope("self_attn.q_norm"), dimensions: headDim, eps: eps)
    kNorm = try RMSNorm(scope.scope("self_attn.k_norm"), dimensions: headDim, eps: eps)
    gateProj = try linear("mlp.gate_proj", d, config.intermediateSize)
    upProj = try linear("mlp.up_proj", d, config.intermediateSize)
    downProj = try linear("mlp.down_proj", config.intermediateSize, d)
  }

  /// x [1, L, D]; mask [1, 1, L, L] boolean (causal and key padding).
  func callAsFunction(_ x: MLXArray, rotary: TextRotary, mask: MLXArray) throws -> MLXArray {
    let length = x.shape[1]
    let h = try inputNorm(x)
    let q = try rotary.apply(qNorm(qProj(h).reshaped(1, length, heads, headDim))).transposed(0, 2, 1, 3)
    let k = try rotary.apply(kNorm(kProj(h).reshaped(1, length, keyValueHeads, headDim))).transposed(0, 2, 1, 3)
    let v = try vProj(h).reshaped(1, length, keyValueHeads, headDim).transposed(0, 2, 1, 3)
    let attended = try MLXFast.scaledDotProductAttention(
      queries: q, keys: k, values: v, scale: 1 / Float(headDim).squareRoot(), mask: .array(mask))
    let residual = try x + oProj(attended.transposed(0, 2, 1, 3).reshaped(1, length, heads * headDim))
    let m = try postAttentionNorm(residual)
    return try residual + downProj(silu(gateProj(m)) * upProj(m))
  }
}

#if canImport(Glibc)
  import Glibc
  func Darwin_or_Glibc_cos(_ x: Double) -> Double { Glibc.cos(x) }
  func Darwin_or_Glibc_sin(_ x: Double) -> Double { Glibc.sin(x) }
#elseif canImport(Darwin)
  import Darwin
  func Darwin_or_Glibc_cos(_ x: Double) -> Double { Darwin.cos(x) }
  func Darwin_or_Glibc_sin(_ x: Double) -> Double { Darwin.sin(x) }
#endif
