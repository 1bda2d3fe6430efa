/// Command-line options of the nucleus-engine executable.
public struct EngineOptions: Sendable {
  public enum Action: Sendable { case serve, help, version }

  public var action: Action = .serve
  /// nil: the default socket (see `defaultSocket`).
  public var address: ListenAddress?
  /// Clients must send `authorization: Bearer <token>` when set (--token, else NUCLEUS_ENGINE_TOKEN).
  public var token: String?
  public var exitOnStandardInputEOF = false
  public var shutdownGraceMilliseconds = 10_000
  public var maxMessageBytes = 512 << 20

  private static func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
  }

  /// The default socket: $XDG_RUNTIME_DIR/nucleus-engine-<uid>.sock (a folder private to the user), else
  /// engine.sock in a fresh folder of mode 0700 under $TMPDIR or /tmp, so no other user can take the path first.
  /// Returns the folder it created (to remove at exit), if any.
  public static func defaultSocket() throws -> (path: String, createdFolder: String?) {
    if let runtime = environment("XDG_RUNTIME_DIR") {
      return ("\(runtime)/nucleus-engine-\(getuid()).sock", nil)
    }
    let base = environment("TMPDIR") ?? "/tmp"
    guard let template = strdup("\(base)/nucleus-XXXXXX") else {
      throw RPCError(.unavailable, "out of memory while choosing a socket folder")
    }
    defer { free(template) }
    guard mkdtemp(template) != nil else {
      throw RPCError(.unavailable, "cannot create a private folder for the socket under \(base): \(String(cString: strerror(errno))); pass --socket PATH")
    }
    let folder = String(cString: template)
    return ("\(folder)/engine.sock", folder)
  }

  public static let usage = """
    usage: nucleus-engine [--socket PATH | --port N] [--token T] [options]

    Serves nucleus.engine.v1 over gRPC and prints one JSON ready line on standard output.

      --socket PATH           listen on a Unix socket (mode 0600); default $XDG_RUNTIME_DIR/nucleus-engine-UID.sock,
                              or engine.sock in a fresh private folder under $TMPDIR (or /tmp) without XDG_RUNTIME_DIR
      --port N                listen on 127.0.0.1:N instead (0 picks a free port); give it a --token
      --token T               require the metadata 'authorization: Bearer T' on every call (default: the
                              NUCLEUS_ENGINE_TOKEN environment variable; prefer it, other users can read arguments)
      --exit-on-stdin-eof     shut down when standard input closes (used by the orchestrator, so the engine
                              never outlives its parent)
      --shutdown-grace-ms MS  how long in-flight calls may finish after SIGTERM or Shutdown (default 10000)
      --max-message-mb N      largest request accepted, in MiB (default 512)
      --version, --help
    """

  /// gRPC metadata values are printable ASCII; a space would be ambiguous after "Bearer ".
  static func isValidToken(_ token: String) -> Bool {
    !token.isEmpty && token.utf8.count <= 4096 && token.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f }
  }

  public static func parse(_ arguments: [String]) throws -> EngineOptions {
    var options = EngineOptions()
    options.token = environment("NUCLEUS_ENGINE_TOKEN")
    if let token = options.token, !isValidToken(token) {
      throw RPCError(.invalidArgument, "NUCLEUS_ENGINE_TOKEN must be 1 to 4096 printable ASCII characters without spaces")
    }
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
      case "--token":
        let token = try value(argument)
        guard isValidToken(token) else {
          throw RPCError(.invalidArgument, "--token must be 1 to 4096 printable ASCII characters without spaces")
        }
        options.token = token
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
