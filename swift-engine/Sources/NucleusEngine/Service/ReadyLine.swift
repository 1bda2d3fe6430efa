import MLX

/// The one line the engine prints on standard output once it accepts calls: a JSON object that the orchestrator
/// (or anyone scripting the engine) waits for.
public enum ReadyLine {
  struct Payload: Encodable {
    let event = "ready"
    let address: String
    let port: Int
    let pid: Int32
    let engine_version: String
    let mlx_version: String
    let backend: String
    let `protocol`: String
  }

  public static func print(server: EngineServer) {
    let addressText: String
    switch server.address {
    case .unixSocket(let path): addressText = "unix:" + path
    case .loopback: addressText = "127.0.0.1:\(server.boundPort)"
    }
    let payload = Payload(
      address: addressText, port: server.boundPort, pid: getpid(), engine_version: EngineVersion.string,
      mlx_version: Device.mlxVersion, backend: Device.backend, protocol: EngineVersion.proto)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let json = (try? encoder.encode(payload)).map { String(decoding: $0, as: UTF8.self) } ?? "{\"event\":\"ready\"}"
    fputs(json + "\n", stdout)
    fflush(stdout)
  }
}
