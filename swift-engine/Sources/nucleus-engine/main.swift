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

let server: EngineServer
do {
  server = try EngineServer(address: options.address, maxMessageBytes: options.maxMessageBytes)
} catch {
  EngineLog.write("\(error)")
  exit(1)
}

let service = EngineService(server: server)
service.register()
server.watchSignals()
if options.exitOnStandardInputEOF { server.watchStandardInput() }

ReadyLine.print(server: server)
server.run(graceMilliseconds: options.shutdownGraceMilliseconds)
EngineLog.write("stopped")
// _exit, not exit: a computation abandoned after the grace period may still hold OpenBLAS's threads, and the
// library's exit-time destructors would wait for them forever. Everything the engine owns is released already.
fflush(stdout)
fflush(stderr)
_exit(0)
