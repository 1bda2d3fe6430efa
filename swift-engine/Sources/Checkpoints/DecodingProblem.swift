#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A JSON decoding failure in words, naming the key and what was expected but never quoting the file: the file may
/// be one the client cannot read (a config.json linked to a private file), and Foundation's own descriptions quote
/// the characters they stopped at.
public func describeDecodingProblem(_ error: Error) -> String {
  if let error = error as? ClassifiedError { return error.message }
  guard let error = error as? DecodingError else { return "it could not be decoded" }
  func path(_ keys: [CodingKey]) -> String {
    guard !keys.isEmpty else { return "the top level" }
    return keys.enumerated().map { index, key in
      if let position = key.intValue { return "[\(position)]" }
      return (index == 0 ? "" : ".") + String(key.stringValue.prefix(64))
    }.joined()
  }
  switch error {
  case .typeMismatch(let type, let context):
    return "\(path(context.codingPath)) has the wrong type (expected \(expectation(type)))"
  case .valueNotFound(let type, let context):
    return "\(path(context.codingPath)) is null (expected \(expectation(type)))"
  case .keyNotFound(let key, let context):
    return "\(path(context.codingPath + [key])) is missing"
  case .dataCorrupted(let context) where context.codingPath.isEmpty:
    return "it is not valid JSON" + position(in: context.debugDescription)
  case .dataCorrupted(let context):
    return "\(path(context.codingPath)) has an invalid value (a number that does not fit, or a malformed entry)"
  @unknown default:
    return "it could not be decoded"
  }
}

private func expectation(_ type: Any.Type) -> String {
  switch type {
  case is Int.Type, is [Int].Type: "an integer" + (type is [Int].Type ? " list" : "")
  case is Double.Type, is [Double].Type: "a number" + (type is [Double].Type ? " list" : "")
  case is Bool.Type, is [Bool].Type: "true or false" + (type is [Bool].Type ? " list" : "")
  case is String.Type: "a string"
  default: "an object or list of the right shape"
  }
}

/// " (around line N, column M)" from Foundation's description, without the characters it quotes.
private func position(in description: String) -> String {
  func number(after word: String) -> String? {
    let text = Array(description)
    let target = Array(word)
    guard text.count >= target.count else { return nil }
    for start in 0...(text.count - target.count) where Array(text[start..<start + target.count]) == target {
      let digits = text[(start + target.count)...].prefix(while: \.isNumber)
      if !digits.isEmpty { return String(digits) }
    }
    return nil
  }
  guard let line = number(after: "line ") else { return "" }
  return number(after: "column ").map { " (around line \(line), column \($0))" } ?? " (around line \(line))"
}
