/**
 * node-opcua prints warnings and errors straight to the console (every reconnection attempt,
 * every refused certificate, with stack-like detail). In Node-RED they belong in the runtime
 * log at debug level: the nodes already report what an operator needs through status and
 * node.error. The loggers are process-wide, so this is done once, by whichever loads first.
 */
import { setErrorLogger, setWarningLogger } from "node-opcua-client";
import type { NodeAPI } from "../shared/red";

let routed = false;

export function routeNodeOpcuaLogs(RED: NodeAPI): void {
  if (routed || process.env.OTB_OPCUA_LOG === "console") return;
  routed = true;
  const toDebug = (...args: unknown[]): void => {
    try {
      RED.log.debug(`node-opcua: ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ")}`);
    } catch {
      // Logging must never throw into node-opcua's internals.
    }
  };
  setWarningLogger(toDebug);
  setErrorLogger(toDebug);
}
