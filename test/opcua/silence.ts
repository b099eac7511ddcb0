/**
 * node-opcua logs warnings and errors straight to the console (certificate creation, every
 * reconnection attempt, refused certificates); the tests provoke all of those on purpose. Set
 * OTB_OPCUA_LOG=1 to see them when debugging a test.
 */
import { setErrorLogger, setWarningLogger } from "node-opcua";

let done = false;

export function silenceNodeOpcua(): void {
  if (done || process.env.OTB_OPCUA_LOG) return;
  done = true;
  setWarningLogger(() => undefined);
  setErrorLogger(() => undefined);
}
