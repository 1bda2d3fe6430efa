import MLX

/// A layer or model: its parameters and child modules under their checkpoint names. The tree is the single
/// source of truth for what a component loads, quantizes, counts and reports.
public protocol Module: AnyObject {
  /// Own parameters and children, named as in the checkpoint ("weight", "attn", "transformer_blocks.3"); an empty
  /// name places the item at the module's own path.
  var items: [(String, ModuleItem)] { get }
}

public enum ModuleItem {
  case parameter(Parameter)
  case module(any Module)
}

extension Module {
  /// Every parameter under its full dotted path, in declaration order.
  public func parameters(prefix: String = "") -> [(path: String, parameter: Parameter)] {
    var result: [(path: String, parameter: Parameter)] = []
    for (name, item) in items {
      let path = name.isEmpty ? prefix : prefix.isEmpty ? name : prefix + "." + name
      switch item {
      case .parameter(let parameter): result.append((path, parameter))
      case .module(let module): result += module.parameters(prefix: path)
      }
    }
    return result
  }

  public var parameterCount: Int { parameters().reduce(0) { $0 + $1.parameter.elementCount } }

  /// Resident bytes of the loaded values.
  public var nbytes: Int { parameters().reduce(0) { $0 + $1.parameter.nbytes } }

  /// Quantizes loaded dense parameters in place: linear weights with `linear`, expert stacks with `experts`, only
  /// where the layer allows it, the groups fit and `filter(path)` agrees.
  public func quantize(
    linear: QuantizationSpec?, experts: QuantizationSpec?, filter: (String) -> Bool = { _ in true }
  ) throws {
    for (path, parameter) in parameters() where filter(path) {
      guard let kind = parameter.quantization, case .dense(let dense) = parameter.value else { continue }
      guard let spec = kind == .linear ? linear : experts, parameter.canQuantize(spec) else { continue }
      let q = try parameter.quantizedForm(of: dense, spec)
      try eval([q.weight, q.scales, q.biases])
      parameter.set(q)
    }
  }
}

/// `("transformer_blocks.0", block0), ...`: a list of children under numbered names.
public func numbered(_ name: String, _ modules: [any Module]) -> [(String, ModuleItem)] {
  modules.enumerated().map { ("\(name).\($0.offset)", .module($0.element)) }
}
