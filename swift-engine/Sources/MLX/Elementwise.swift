import CMLXBridge

func unary(_ op: mlxb_unary_op, _ a: MLXArray) throws -> MLXArray {
  try withExtendedLifetime(a) { try produce { mlxb_unary(op, a.handle, $0) } }
}

func binary(_ op: mlxb_binary_op, _ a: MLXArray, _ b: MLXArray) throws -> MLXArray {
  try withExtendedLifetime((a, b)) { try produce { mlxb_binary(op, a.handle, b.handle, $0) } }
}

/// A scalar operand takes the array's dtype when that is floating point, so bf16 math stays bf16 (as in mlx-swift).
func scalarLike(_ value: Double, _ array: MLXArray) throws -> MLXArray {
  let type = array.dtype
  return try MLXArray.scalar(value, dtype: type.isFloatingPoint || value == value.rounded() ? type : .float32)
}

extension MLXArray {
  public static func + (lhs: MLXArray, rhs: MLXArray) throws -> MLXArray { try binary(MLXB_ADD, lhs, rhs) }
  public static func - (lhs: MLXArray, rhs: MLXArray) throws -> MLXArray { try binary(MLXB_SUBTRACT, lhs, rhs) }
  public static func * (lhs: MLXArray, rhs: MLXArray) throws -> MLXArray { try binary(MLXB_MULTIPLY, lhs, rhs) }
  public static func / (lhs: MLXArray, rhs: MLXArray) throws -> MLXArray { try binary(MLXB_DIVIDE, lhs, rhs) }
  public static prefix func - (operand: MLXArray) throws -> MLXArray { try unary(MLXB_NEGATIVE, operand) }

  public static func + (lhs: MLXArray, rhs: Double) throws -> MLXArray { try lhs + scalarLike(rhs, lhs) }
  public static func - (lhs: MLXArray, rhs: Double) throws -> MLXArray { try lhs - scalarLike(rhs, lhs) }
  public static func * (lhs: MLXArray, rhs: Double) throws -> MLXArray { try lhs * scalarLike(rhs, lhs) }
  public static func / (lhs: MLXArray, rhs: Double) throws -> MLXArray { try lhs / scalarLike(rhs, lhs) }
  public static func + (lhs: Double, rhs: MLXArray) throws -> MLXArray { try scalarLike(lhs, rhs) + rhs }
  public static func - (lhs: Double, rhs: MLXArray) throws -> MLXArray { try scalarLike(lhs, rhs) - rhs }
  public static func * (lhs: Double, rhs: MLXArray) throws -> MLXArray { try scalarLike(lhs, rhs) * rhs }
  public static func / (lhs: Double, rhs: MLXArray) throws -> MLXArray { try scalarLike(lhs, rhs) / rhs }
}

public func exp(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_EXP, a) }
public func log(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_LOG, a) }
public func sqrt(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_SQRT, a) }
public func rsqrt(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_RSQRT, a) }
public func tanh(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_TANH, a) }
public func sigmoid(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_SIGMOID, a) }
/// x · sigmoid(x)
public func silu(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_SILU, a) }
public func sin(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_SIN, a) }
public func cos(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_COS, a) }
public func abs(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_ABS, a) }
public func square(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_SQUARE, a) }
public func floor(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_FLOOR, a) }
public func logicalNot(_ a: MLXArray) throws -> MLXArray { try unary(MLXB_LOGICAL_NOT, a) }

public func maximum(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray { try binary(MLXB_MAXIMUM, a, b) }
public func minimum(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray { try binary(MLXB_MINIMUM, a, b) }
public func pow(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray { try binary(MLXB_POWER, a, b) }
public func pow(_ a: MLXArray, _ exponent: Double) throws -> MLXArray { try pow(a, scalarLike(exponent, a)) }
public func equal(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray { try binary(MLXB_EQUAL, a, b) }
public func notEqual(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray { try binary(MLXB_NOT_EQUAL, a, b) }
public func less(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray { try binary(MLXB_LESS, a, b) }
public func lessEqual(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray { try binary(MLXB_LESS_EQUAL, a, b) }
public func greater(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray { try binary(MLXB_GREATER, a, b) }
public func greaterEqual(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray { try binary(MLXB_GREATER_EQUAL, a, b) }
public func logicalAnd(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray { try binary(MLXB_LOGICAL_AND, a, b) }
public func logicalOr(_ a: MLXArray, _ b: MLXArray) throws -> MLXArray { try binary(MLXB_LOGICAL_OR, a, b) }

/// Limits `a` to [low, high]; either bound may be nil.
public func clip(_ a: MLXArray, min low: MLXArray? = nil, max high: MLXArray? = nil) throws -> MLXArray {
  try withExtendedLifetime((a, low, high)) { try produce { mlxb_clip(a.handle, low?.handle, high?.handle, $0) } }
}

public func clip(_ a: MLXArray, min low: Double, max high: Double) throws -> MLXArray {
  try clip(a, min: scalarLike(low, a), max: scalarLike(high, a))
}

/// Elementwise choice: `x` where `condition` is true, else `y` (mlx-swift's `which`; `where` is a Swift keyword).
public func which(_ condition: MLXArray, _ x: MLXArray, _ y: MLXArray) throws -> MLXArray {
  try withExtendedLifetime((condition, x, y)) { try produce { mlxb_where(condition.handle, x.handle, y.handle, $0) } }
}
