import Checkpoints
import MLX
import MLXNN

/// The expert-choice Mixture-of-Experts feed-forward (blocks with MoE).
///
/// Routing sees concat(temb, unmodulated LayerNorm(x)); every expert takes its top-C tokens of each sample
/// (C = max(1, ⌈cf · S / E⌉)); a token's gating values are renormalised to sum to 1 over the experts that picked it,
/// times route_scale. The routed experts (SwiGLU with silu(first half) · second half) run as one batched matmul over
/// [E, B·C, D] (every expert has exactly B·C rows); a shared expert runs on every token; the weighted expert
/// outputs are scatter-added into their token rows. No per-expert loop and no host synchronisation.
final class NucleusMoELayer: Module {
  let gate: Linear
  let gateUp: ExpertLinear
  let down: ExpertLinear
  let shared: SwiGLUFeedForward
  let experts, inner: Int
  let capacityFactor: Double
  let routeScale: Double
  let useSigmoid: Bool

  init(config: TransformerConfig, layer: Int) {
    let dim = config.innerDim
    experts = config.numExperts
    inner = config.moeIntermediateDim
    capacityFactor = config.capacityFactors[layer]
    routeScale = config.routeScale
    useSigmoid = config.useSigmoid
    // The router stays dense: quantizing it could change which tokens the experts pick.
    gate = Linear(2 * dim, experts, bias: false, quantizable: false)
    gateUp = ExpertLinear(experts: experts, input: dim, output: 2 * inner)
    down = ExpertLinear(experts: experts, input: inner, output: dim)
    shared = SwiGLUFeedForward(dimension: dim, inner: inner)
  }

  var items: [(String, ModuleItem)] {
    [
      ("gate", .module(gate)), ("experts.gate_up_proj", .module(gateUp)), ("experts.down_proj", .module(down)),
      ("shared_expert", .module(shared)),
    ]
  }

  /// `modulated` [B, S, D] (what the experts compute on), `normalized` [B, S, D] (what the router sees), temb [B, D].
  func callAsFunction(_ modulated: MLXArray, normalized: MLXArray, temb: MLXArray) throws -> MLXArray {
    let (b, s, d) = (modulated.shape[0], modulated.shape[1], modulated.shape[2])
    let dtype = modulated.dtype
    let capacity = Swift.max(1, Int((capacityFactor * Double(s) / Double(experts)).rounded(.up)))
    guard capacity <= s else {
      throw InputError("expert capacity \(capacity) exceeds the \(s) image tokens (capacity factor \(capacityFactor))")
    }

    // One matmul over concat(temb, token), as diffusers does: splitting it would round differently in bf16 and
    // move near-tied tokens to other experts.
    let routerInput = try concatenated([temb.expandedDimensions(axis: 1).broadcast(to: [b, s, d]), normalized], axis: -1)
    let logits = try gate(routerInput).asType(.float32)
    let scores = try (useSigmoid ? sigmoid(logits) : softmax(logits, axis: -1)).asType(dtype)
    let affinity = try scores.transposed(0, 2, 1)  // [B, E, S]

    // Top-C tokens per (sample, expert); their order within the set does not matter (outputs are summed).
    let top = try argPartition(-affinity, kth: capacity - 1, axis: -1).sliced(axis: -1, 0..<capacity)  // [B, E, C]
    let gating = try affinity.takeAlong(top, axis: -1)

    // Flat token indices, expert-major: [E, B, C] -> [E·B·C], offset by sample.
    let sampleOffsets = try (MLXArray.arange(0, Double(b), dtype: .uint32) * Double(s)).reshaped(1, b, 1)
    let tokens = try (top.transposed(1, 0, 2) + sampleOffsets).reshaped(-1)
    let flatGating = try gating.transposed(1, 0, 2).reshaped(-1)

    let sums = try MLXArray.zeros([b * s], dtype: dtype).scatterAdd(
      indices: [tokens], updates: flatGating.expandedDimensions(axis: 1), axes: [0])
    let weights = try flatGating / (sums.take(tokens, axis: 0) + 1e-12) * routeScale

    let routed = try modulated.reshaped(b * s, d).take(tokens, axis: 0).reshaped(experts, b * capacity, d)
    let halves = try gateUp(routed).split(parts: 2, axis: -1)
    let expertOutput = try down(silu(halves[0]) * halves[1]).reshaped(experts * b * capacity, d)
    let weighted = try (expertOutput.asType(.float32) * weights.asType(.float32).expandedDimensions(axis: 1)).asType(dtype)

    let output = try shared(modulated).reshaped(b * s, d)
    return try output.scatterAdd(indices: [tokens], updates: weighted.expandedDimensions(axis: 1), axes: [0])
      .reshaped(b, s, d)
  }
}
