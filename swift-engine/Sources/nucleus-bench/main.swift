// nucleus-bench: the engine's own benchmark and device-check binary (needs no Node, Python or gRPC client).
//   nucleus-bench ops     tensor-layer rates on the DiT's shapes (bench/tensor-ops.ts)
//   nucleus-bench model   the full-size (or mid) model with random weights made on the device: DiT, text encoder,
//                         VAE timings, build time, peak memory
//   nucleus-bench parity  the committed tiny-model fixtures on this backend against the reference outputs
// Every result is one JSON object per line on stdout.
import MLX

let usage = """
  usage:
    \(OpsCommand.usage)
    \(ModelCommand.usage)
    \(ParityCommand.usage)
  """

Memory.keepFreedHostMemory()  // as the engine does
let arguments = Array(CommandLine.arguments.dropFirst())
do {
  switch arguments.first {
  case "ops": try OpsCommand.run(Array(arguments.dropFirst()))
  case "model": exit(try ModelCommand.run(Array(arguments.dropFirst())) ? 0 : 1)
  case "parity": exit(try ParityCommand.run(Array(arguments.dropFirst())) ? 0 : 1)
  case "-h", "--help", "help":
    print(usage)
  default:
    fputs("\(usage)\n", stderr)
    exit(2)
  }
} catch let error as UsageError {
  fputs("nucleus-bench: \(error)\n\(usage)\n", stderr)
  exit(2)
} catch {
  emit([("event", .string("error")), ("message", .string("\(error)"))])
  fputs("nucleus-bench: \(error)\n", stderr)
  exit(1)
}
