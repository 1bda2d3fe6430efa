/// Command-line options of the nucleus-engine executable.
public struct EngineOptions: Sendable {
  public enum Action: Sendable { case serve, help, version }

  public var action: Action = .serve
  public var address: ListenAddress = .unixSocket(path: EngineOptions.defaultSocketPath)
  public var exitOnStandardInputEOF = false
  public var shutdownGraceMilliseconds = 10_000
  public var maxMessageBytes = 512 << 20

  public static var defaultSocketPath: String {
    let directory = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    return "\(directory)/nucleus-engine-\(getuid()).sock"
  }

  public static let usage = """
    usage: nucleus-engine [--socket PATH | --port N] [options]

    Serves nucleus.engine.v1 over gRPC and prints one JSON ready line on standard output.

      --socket PATH           listen on a Unix socket (mode 0600); default \(defaultSocketPath)
      --port N                listen on 127.0.0.1:N instead (0 picks a free port)
      --exit-on-stdin-eof     shut down when standard input closes (used by the orchestrator, so the engine
                              never outlives its parent)
      --shutdown-grace-ms MS  how long in-flight calls may finish after SIGTERM or Shutdown (default 10000)
      --max-message-mb N      largest request accepted, in MiB (default 512)
      --version, --help
    """

  public static func parse(_ arguments: [String]) throws -> EngineOptions {
    var options = EngineOptions()
    var remaining = arguments[...]
    func value(_ flag: String) throws -> String {
      guard let next = remaining.popFirst() else { throw RPCError(.invalidArgument, "\(flag) needs a value") }
      return next
    }
    func integer(_ flag: String, in range: ClosedRange<Int>) throws -> Int {
      let text = try value(flag)
      guard let number = Int(text), range.contains(number) else {
        throw RPCError(.invalidArgument, "\(flag) must be a whole number in \(range.lowerBound)...\(range.upperBound), not '\(text)'")
      }
      return number
    }
    var sawSocket = false
    var sawPort = false
    while let argument = remaining.popFirst() {
      switch argument {
      case "--socket":
        let path = try value(argument)
        guard path.hasPrefix("/") else { throw RPCError(.invalidArgument, "--socket needs an absolute path, not '\(path)'") }
        options.address = .unixSocket(path: path)
        sawSocket = true
      case "--port":
        options.address = .loopback(port: try integer(argument, in: 0...65535))
        sawPort = true
      case "--exit-on-stdin-eof": options.exitOnStandardInputEOF = true
      case "--shutdown-grace-ms": options.shutdownGraceMilliseconds = try integer(argument, in: 0...3_600_000)
      case "--max-message-mb": options.maxMessageBytes = try integer(argument, in: 1...2047) << 20
      case "--help", "-h": options.action = .help
      case "--version": options.action = .version
      default: throw RPCError(.invalidArgument, "unknown option '\(argument)'")
      }
    }
    if sawSocket && sawPort { throw RPCError(.invalidArgument, "use either --socket or --port, not both") }
    return options
  }
}
