import CEngineProto
import Checkpoints

/// Sizes a request gives (tensor shapes, token grids), checked with overflow-safe arithmetic before anything is
/// computed or allocated from them: a shape whose product overflows must be an INVALID_ARGUMENT, never a trap.
enum TensorBounds {
  /// More axes than any request tensor has (they have 1 to 3).
  static let maxAxes = 8

  /// Elements and bytes of a `elementSize`-byte tensor of `shape`, or an INVALID_ARGUMENT naming `field` when an
  /// axis is negative or over 2³¹−1 (MLX's limit), there are too many axes, or the product overflows.
  static func size(of shape: [Int], elementSize: Int, field: String) throws -> (elements: Int, bytes: Int) {
    guard shape.count <= maxAxes else {
      throw RPCError(.invalidArgument, "\(field) has \(shape.count) axes; request tensors have at most \(maxAxes)")
    }
    guard shape.allSatisfy({ $0 >= 0 && $0 <= Int(Int32.max) }) else {
      throw RPCError(.invalidArgument, "\(field) has an invalid shape \(shape): every axis must be 0 to 2147483647")
    }
    guard let elements = Checked.product(shape), let bytes = Checked.multiply(elements, elementSize) else {
      throw RPCError(.invalidArgument, "\(field) has shape \(shape), more elements than any tensor can hold")
    }
    return (elements, bytes)
  }

  /// Checks a request tensor's shape against its bytes before it is decoded (a missing tensor passes; the handler
  /// says what is required).
  static func check(_ tensor: UnsafeMutablePointer<Nucleus__Engine__V1__Tensor>?, field: String) throws {
    guard let tensor else { return }
    guard tensor.pointee.n_shape <= maxAxes else {
      throw RPCError(.invalidArgument, "\(field) has \(tensor.pointee.n_shape) axes; request tensors have at most \(maxAxes)")
    }
    let shape = (0..<tensor.pointee.n_shape).map { Int(tensor.pointee.shape[$0]) }
    guard let dtype = TensorCoding.dtype(tensor.pointee.dtype) else { return }  // decode names the dtype problem
    let (_, bytes) = try size(of: shape, elementSize: dtype.size, field: field)
    guard tensor.pointee.data.len == bytes else {
      throw RPCError(
        .invalidArgument, "\(field) holds \(tensor.pointee.data.len) bytes but a \(dtype) tensor of shape \(shape) needs \(bytes)")
    }
  }

  /// Tokens of an h × w grid, or nil when a side is zero or the product overflows.
  static func gridTokens(height: Int, width: Int) -> Int? {
    guard height > 0, width > 0 else { return nil }
    return Checked.multiply(height, width)
  }

  /// Checks a request's token grid (sides up to 2³²−1 arrive) before any size is derived from it: both sides
  /// positive and h·w representable.
  static func checkGrid(height: Int, width: Int) throws {
    guard gridTokens(height: height, width: width) != nil else {
      throw RPCError(.invalidArgument, "grid_height × grid_width = \(height)×\(width) is not a token grid: give two positive sides whose product is the latents' S")
    }
  }
}
