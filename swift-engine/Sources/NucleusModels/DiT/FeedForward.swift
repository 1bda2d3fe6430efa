import MLX
import MLXNN

/// diffusers' FeedForward with SwiGLU (dense blocks and the MoE shared expert): proj -> [value | gate],
/// value · silu(gate), then the down projection. Note the order: value first, gate second.
final class SwiGLUFeedForward: Module {
  let proj: Linear
  let down: Linear

  init(dimension: Int, inner: Int) {
    proj = Linear(dimension, 2 * inner, bias: false)
    down = Linear(inner, dimension, bias: false)
  }

  var items: [(String, ModuleItem)] { [("net.0.proj", .module(proj)), ("net.2", .module(down))] }

  func callAsFunction(_ x: MLXArray) throws -> MLXArray {
    let halves = try proj(x).split(parts: 2, axis: -1)
    return try down(halves[0] * silu(halves[1]))
  }
}
