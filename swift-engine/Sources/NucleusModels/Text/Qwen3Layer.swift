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
final class Qwen3DecoderLayer: Module {
  let inputNorm, postAttentionNorm: RMSNorm
  let qProj, kProj, vProj, oProj: Linear
  let qNorm, kNorm: RMSNorm
  let gateProj, upProj, downProj: Linear
  let heads, keyValueHeads, headDim: Int

  init(config: TextEncoderConfig) {
    heads = config.numAttentionHeads
    keyValueHeads = config.numKeyValueHeads
    headDim = config.headDim
    let (d, eps) = (config.hiddenSize, Float(config.rmsNormEps))
    inputNorm = RMSNorm(dimensions: d, eps: eps)
    postAttentionNorm = RMSNorm(dimensions: d, eps: eps)
    qProj = Linear(d, heads * headDim, bias: false)
    kProj = Linear(d, keyValueHeads * headDim, bias: false)
    vProj = Linear(d, keyValueHeads * headDim, bias: false)
    oProj = Linear(heads * headDim, d, bias: false)
    qNorm = RMSNorm(dimensions: headDim, eps: eps)
    kNorm = RMSNorm(dimensions: headDim, eps: eps)
    gateProj = Linear(d, config.intermediateSize, bias: false)
    upProj = Linear(d, config.intermediateSize, bias: false)
    downProj = Linear(config.intermediateSize, d, bias: false)
  }

  var items: [(String, ModuleItem)] {
    [
      ("input_layernorm", .module(inputNorm)), ("post_attention_layernorm", .module(postAttentionNorm)),
      ("self_attn.q_proj", .module(qProj)), ("self_attn.k_proj", .module(kProj)), ("self_attn.v_proj", .module(vProj)),
      ("self_attn.o_proj", .module(oProj)), ("self_attn.q_norm", .module(qNorm)), ("self_attn.k_norm", .module(kNorm)),
      ("mlp.gate_proj", .module(gateProj)), ("mlp.up_proj", .module(upProj)), ("mlp.down_proj", .module(downProj)),
    ]
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
