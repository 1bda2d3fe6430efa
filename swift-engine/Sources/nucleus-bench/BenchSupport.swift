import MLX

/// A JSON value for the one-object-per-line output (keys keep their order).
enum JSON {
  case number(Double)
  case integer(Int)
  case string(String)
  case bool(Bool)
  case null
  case array([JSON])
  case object([(String, JSON)])

  var text: String {
    switch self {
    case .number(let value): return value.isFinite ? "\(value)" : "null"
    case .integer(let value): return "\(value)"
    case .string(let value): return Self.quoted(value)
    case .bool(let value): return value ? "true" : "false"
    case .null: return "null"
    case .array(let values): return "[" + values.map(\.text).joined(separator: ",") + "]"
    case .object(let pairs): return "{" + pairs.map { Self.quoted($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
    }
  }

  static func quoted(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      default:
        if scalar.value < 0x20 {
          let hex = String(scalar.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }
}

/// Prints one JSON object per line and flushes, so a run cut short by a timeout still leaves every line it made.
func emit(_ pairs: [(String, JSON)]) {
  print(JSON.object(pairs).text)
  fflush(stdout)
}

/// A bad invocation: the message names the problem; exit status 2.
struct UsageError: Error, CustomStringConvertible {
  var description: String
  init(_ message: String) { description = message }
}

/// `--name value` options and `--flag` switches after the subcommand; unknown names are errors.
struct Options {
  private var values: [String: String] = [:]
  private var switches: Set<String> = []

  init(_ arguments: [String], valued: Set<String>, switches known: Set<String> = []) throws {
    var index = 0
    while index < arguments.count {
      let name = arguments[index]
      if known.contains(name) {
        switches.insert(name)
        index += 1
      } else if valued.contains(name) {
        guard index + 1 < arguments.count else { throw UsageError("\(name) needs a value") }
        values[name] = arguments[index + 1]
        index += 2
      } else {
        throw UsageError("unknown option \(name) (known: \((valued.union(known)).sorted().joined(separator: " ")))")
      }
    }
  }

  func has(_ name: String) -> Bool { switches.contains(name) }
  func string(_ name: String) -> String? { values[name] }

  func int(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
    guard let text = values[name] else { return fallback }
    guard let value = Int(text), range.contains(value) else {
      throw UsageError("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), not '\(text)'")
    }
    return value
  }

  func ints(_ name: String, default fallback: [Int], allowed: (Int) -> Bool, rule: String) throws -> [Int] {
    guard let text = values[name] else { return fallback }
    let parts = text.split(separator: ",").map { Int(String($0.filter { !$0.isWhitespace })) }
    guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && allowed($0!) }) else {
      throw UsageError("\(name) takes a comma-separated list of \(rule), not '\(text)'")
    }
    return parts.map { $0! }
  }

  func choice(_ name: String, _ allowed: [String], default fallback: String?) throws -> String? {
    guard let text = values[name] else { return fallback }
    guard allowed.contains(text) else { throw UsageError("\(name) must be one of \(allowed.joined(separator: "|")), not '\(text)'") }
    return text
  }

  func choices(_ name: String, _ allowed: [String], default fallback: [String]) throws -> [String] {
    guard let text = values[name] else { return fallback }
    let parts = text.split(separator: ",").map(String.init)
    guard !parts.isEmpty, parts.allSatisfy(allowed.contains) else {
      throw UsageError("\(name) takes a comma-separated list of \(allowed.joined(separator: "|")), not '\(text)'")
    }
    return parts
  }

  func dtype(_ name: String, default fallback: DType) throws -> DType {
    switch try choice(name, ["float32", "bfloat16", "float16"], default: nil) {
    case "float32": return .float32
    case "bfloat16": return .bfloat16
    case "float16": return .float16
    default: return fallback
    }
  }
}

func now() -> Double {
  var time = timespec()
  clock_gettime(CLOCK_MONOTONIC, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Times `body` (graph built and evaluated each time; MLX's eval waits for the device): `warmup` untimed runs,
/// then `repeats` timed ones. Returns the sorted times.
func timeRuns(warmup: Int, repeats: Int, _ body: () throws -> [MLXArray]) throws -> [Double] {
  for _ in 0..<warmup { try eval(body()) }
  var times: [Double] = []
  for _ in 0..<repeats {
    let start = now()
    try eval(body())
    times.append(now() - start)
  }
  return times.sorted()
}

func median(_ sorted: [Double]) -> Double {
  guard !sorted.isEmpty else { return .nan }
  let middle = sorted.count / 2
  return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// max |x| over all elements, computed on the device; NaN or infinity when x holds one.
func maxAbs(_ x: MLXArray) throws -> Double {
  Double(try max(abs(x.asType(.float32))).item(Float.self))
}

/// Environment variable or nil.
func environment(_ name: String) -> String? {
  guard let value = getenv(name) else { return nil }
  return String(cString: value)
}
