import CMLXBridge

/// Element types the engine uses; the same names as mlx-swift's `DType`.
public enum DType: Sendable, CaseIterable, CustomStringConvertible {
  case bool, uint8, uint32, int32, int64, float16, bfloat16, float32

  var bridgeValue: mlxb_dtype {
    switch self {
    case .bool: MLXB_BOOL
    case .uint8: MLXB_UINT8
    case .uint32: MLXB_UINT32
    case .int32: MLXB_INT32
    case .int64: MLXB_INT64
    case .float16: MLXB_FLOAT16
    case .bfloat16: MLXB_BFLOAT16
    case .float32: MLXB_FLOAT32
    }
  }

  init(bridgeValue: mlxb_dtype) {
    switch bridgeValue {
    case MLXB_BOOL: self = .bool
    case MLXB_UINT8: self = .uint8
    case MLXB_UINT32: self = .uint32
    case MLXB_INT32: self = .int32
    case MLXB_INT64: self = .int64
    case MLXB_FLOAT16: self = .float16
    case MLXB_BFLOAT16: self = .bfloat16
    default: self = .float32
    }
  }

  /// Bytes per element.
  public var size: Int { Int(mlxb_dtype_size(bridgeValue)) }

  public var isFloatingPoint: Bool { self == .float16 || self == .bfloat16 || self == .float32 }

  public var description: String {
    switch self {
    case .bool: "bool"
    case .uint8: "uint8"
    case .uint32: "uint32"
    case .int32: "int32"
    case .int64: "int64"
    case .float16: "float16"
    case .bfloat16: "bfloat16"
    case .float32: "float32"
    }
  }
}

/// Swift scalar types that map one-to-one onto an MLX dtype.
public protocol HasDType {
  static var dtype: DType { get }
}

extension Bool: HasDType { public static var dtype: DType { .bool } }
extension UInt8: HasDType { public static var dtype: DType { .uint8 } }
extension UInt32: HasDType { public static var dtype: DType { .uint32 } }
extension Int32: HasDType { public static var dtype: DType { .int32 } }
extension Int64: HasDType { public static var dtype: DType { .int64 } }
extension Float: HasDType { public static var dtype: DType { .float32 } }
