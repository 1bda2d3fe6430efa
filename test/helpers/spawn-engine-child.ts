// A parent process for the orphan tests: starts an engine, prints its PID, then waits to be killed (or exits
// without stopping the engine when told to).
import { LocalEngine } from "../../orchestrator/src/engine/process.js";

const engine = await LocalEngine.start();
process.stdout.write(`${engine.pid}\n`);
if (process.argv[2] === "exit-without-stop") process.exit(0);
setInterval(() => undefined, 1000);
