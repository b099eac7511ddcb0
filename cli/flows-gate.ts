/**
 * Holds Node-RED's flow start until a file says the devices the flows talk to are listening.
 *
 * `otbridge start` launches Node-RED while the simulator is still loading node-opcua (seconds),
 * so that the two start-ups overlap. Node-RED's own start (loading the palette, the editor) does
 * not need the simulator; its flows do: an otb-opcua-in started before the simulator's server
 * listens would report a connection refused that is not a fault. So Node-RED gets a storage
 * module (settings.storageModule) that is its own local file system storage with one change:
 * getFlows() waits until the gate file exists. Node-RED listens and serves the editor meanwhile;
 * it calls getFlows() once the runtime has started, and starts the flows when it resolves.
 *
 * The gate file holds "open" (start the flows) or a reason (the parent could not start the
 * simulator and is stopping Node-RED: the flows are not started). After `timeoutMs` without the
 * file the flows start anyway and the log says why (a parent that died must not leave a Node-RED
 * that never starts its flows).
 */
import * as fs from "fs";

export const GATE_OPEN = "open";

/** Opens the gate (the simulator is up) or closes it for good with a reason. */
export function writeGate(file: string, content: string = GATE_OPEN): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file); // readers see the whole content or no file
}

/** Removes a gate file left by an earlier start, before Node-RED is launched. */
export function resetGate(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Resolves with the gate's content once the file exists, or with null after timeoutMs. */
export function waitForGate(file: string, timeoutMs: number, pollMs = 50): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const look = (): void => {
      let content: string | null = null;
      try {
        content = fs.readFileSync(file, "utf8");
      } catch {
        content = null;
      }
      if (content !== null) resolve(content.trim());
      else if (Date.now() >= deadline) resolve(null);
      else setTimeout(look, pollMs);
    };
    look();
  });
}

interface StorageModule {
  getFlows(): Promise<unknown>;
  [key: string]: unknown;
}

/**
 * Node-RED's local file system storage whose getFlows() waits for the gate. Loaded from the
 * settings file, in Node-RED's process; `log` defaults to console.warn (Node-RED's stderr).
 */
export function gatedStorage(file: string, timeoutMs: number, log: (line: string) => void = (l) => console.warn(l)): StorageModule {
  // The same module instance Node-RED would use by default (one copy in the repo's node_modules).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const local = require("@node-red/runtime/lib/storage/localfilesystem") as StorageModule;
  return {
    ...local, // own properties: Node-RED checks hasOwnProperty("getSettings") etc.
    async getFlows(): Promise<unknown> {
      const content = await waitForGate(file, timeoutMs);
      if (content === null) log(`otbridge: the simulator did not report ready within ${Math.round(timeoutMs / 1000)} s; starting the flows anyway`);
      else if (content !== GATE_OPEN) {
        log(`otbridge: flows not started: ${content}`);
        return [];
      }
      return local.getFlows();
    },
  };
}
