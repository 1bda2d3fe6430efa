/// Engine diagnostics go to standard error, one line each; standard output carries only the ready line.
public enum EngineLog {
  public static func write(_ message: String) {
    let line = "nucleus-engine: \(message)\n"
    _ = line.withCString { fputs($0, stderr) }
  }
}
