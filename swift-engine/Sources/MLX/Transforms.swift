import CMLXBridge

/// Evaluates the arrays' graphs (one scheduling pass for all of them).
public func eval(_ arrays: MLXArray...) throws { try eval(arrays) }

public func eval(_ arrays: [MLXArray]) throws {
  let handles = arrays.map { Optional($0.handle) }
  try withExtendedLifetime(arrays) {
    try check(handles.withUnsafeBufferPointer { mlxb_eval($0.baseAddress, $0.count) })
  }
}

/// Starts evaluating the arrays without waiting for the result.
public func asyncEval(_ arrays: [MLXArray]) throws {
  let handles = arrays.map { Optional($0.handle) }
  try withExtendedLifetime(arrays) {
    try check(handles.withUnsafeBufferPointer { mlxb_async_eval($0.baseAddress, $0.count) })
  }
}
