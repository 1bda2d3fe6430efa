import MLX
import MLXNN

/// One block's attention: image queries over [image keys ; text keys] (no text queries), grouped-query heads,
/// per-head RMSNorm on image q/k and text k, RoPE on all three.
final class NucleusAttention: Module {
  let toQ, toK, toV, toOut: Linear
  let addK, addV: Linear
  let normQ, normK, normAddedK: RMSNorm
  let heads, keyValueHeads, headDim: Int

  init(config: TransformerConfig) {
    let dim = config.innerDim
    heads = config.numAttentionHeads
    keyValueHeads = config.keyValueHeads
    headDim = config.attentionHeadDim
    let kvDim = keyValueHeads * headDim
    toQ = Linear(dim, dim, bias: false)
    toK = Linear(dim, kvDim, bias: false)
    toV = Linear(dim, kvDim, bias: false)
    toOut = Linear(dim, dim, bias: false)
    addK = Linear(dim, kvDim, bias: false)
    addV = Linear(dim, kvDim, bias: false)
    normQ = RMSNorm(dimensions: headDim, eps: 1e-6)
    normK = RMSNorm(dimensions: headDim, eps: 1e-6)
    normAddedK = RMSNorm(dimensions: headDim, eps: 1e-6)
  }

  var items: [(String, ModuleItem)] {
    [
      ("to_q", .module(toQ)), ("to_k", .module(toK)), ("to_v", .module(toV)), ("to_out.0", .module(toOut)),
      ("add_k_proj", .module(addK)), ("add_v_proj", .module(addV)), ("norm_q", .module(normQ)),
      ("norm_k", .module(normK)), ("norm_added_k", .module(normAddedK)),
    ]
  }

  /// Text keys and values for one conditioning: `context` [1, L, dim] (the block's encoder_proj output) ->
  /// k, v [1, Hkv, L, Dh] with k normed and rotated. Independent of the timestep: computed once and cached.
  func textKeysValues(_ context: MLXArray, rope: RotaryTables) throws -> (keys: MLXArray, values: MLXArray) {
    let length = context.shape[1]
    let k = try normAddedK(addK(context).reshaped(1, length, keyValueHeads, headDim))
    let v = try addV(context).reshaped(1, length, keyValueHeads, headDim)
    return (try NucleusRoPE.apply(k, rope).transposed(0, 2, 1, 3), try v.transposed(0, 2, 1, 3))
  }

  /// x [B, S, dim] -> [B, S, dim]; text k/v [B, Hkv, L, Dh]; mask nil or boolean [B, 1, 1, S + L].
  func callAsFunction(
    _ x: MLXArray, rope: RotaryTables, textKeys: MLXArray, textValues: MLXArray, mask: MLXArray?
  ) throws -> MLXArray {
    let (b, s) = (x.shape[0], x.shape[1])
    let q = try NucleusRoPE.apply(normQ(toQ(x).reshaped(b, s, heads, headDim)), rope).transposed(0, 2, 1, 3)
    let k = try NucleusRoPE.apply(normK(toK(x).reshaped(b, s, keyValueHeads, headDim)), rope).transposed(0, 2, 1, 3)
    let v = try toV(x).reshaped(b, s, keyValueHeads, headDim).transposed(0, 2, 1, 3)
    let keys = try concatenated([k, textKeys], axis: 2)
    let values = try concatenated([v, textValues], axis: 2)
    let attended = try MLXFast.scaledDotProductAttention(
      queries: q, keys: keys, values: values, scale: 1 / Float(headDim).squareRoot(),
      mask: mask.map { .array($0) } ?? .none)
    return try toOut(attended.transposed(0, 2, 1, 3).reshaped(b, s, heads * headDim))
  }
}
