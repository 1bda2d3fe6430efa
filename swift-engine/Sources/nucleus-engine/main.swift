import CGRPCShim
import NucleusEngine

// A client that disconnects mid-write must not kill the engine with SIGPIPE.
ngs_ignore_sigpipe()

let options: EngineOptions
do {
  options = try EngineOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
  EngineLog.write("\(error)")
  EngineLog.write("run nucleus-engine --help for usage")
  exit(2)
}

switch options.action {
case .help:
  print(EngineOptions.usage)
  exit(0)
case .version:
  print("nucleus-engine \(EngineVersion.string)")
  exit(0)
case .serve:
  break
}

let address: ListenAddress
/// A private folder made for the default socket, removed when the engine stops.
var socketFolder: String?
do {
  if let given = options.address {
    address = given
  } else {
    let socket = try EngineOptions.defaultSocket()
    address = .unixSocket(path: socket.path)
    socketFolder = socket.createdFolder
  }
} catch {
  EngineLog.write("\(error)")
  exit(1)
}

let server: EngineServer
do {
  server = try EngineServer(address: address, maxMessageBytes: options.maxMessageBytes, token: options.token)
} catch {
  EngineLog.write("\(error)")
  if let socketFolder { rmdir(socketFolder) }
  exit(1)
}
if case .loopback = address, options.token == nil {
  EngineLog.write(
    "warning: listening on TCP without a token: any local user can call this engine (load files you can read, "
      + "stop it); give --token T or set NUCLEUS_ENGINE_TOKEN, and send 'authorization: Bearer T' from clients")
}

let service = EngineService(server: server)
service.register()
server.watchSignals()
if options.exitOnStandardInputEOF { server.watchStandardInput() }

ReadyLine.print(server: server)
server.run(graceMilliseconds: options.shutdownGraceMilliseconds)
if let socketFolder { rmdir(socketFolder) }
EngineLog.write("stopped")
// _exit, not exit: a computation abandoned after the grace period may still hold OpenBLAS's threads, and the
// library's exit-time destructors would wait for them forever. Everything the engine owns is released already.
fflush(stdout)
fflush(stderr)
_exit(0)
