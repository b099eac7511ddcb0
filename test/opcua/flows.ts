/** Flow builders and collectors shared by the OPC UA test files. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Signal } from "../../nodes/shared";
import { helper, tab } from "../helpers/red";
import endpointNode = require("../../nodes/otb-opcua-endpoint/otb-opcua-endpoint");
import inNode = require("../../nodes/otb-opcua-in/otb-opcua-in");

export const nodes = [endpointNode, inNode];

/** A client PKI folder per test file, so certificate trust in one file cannot leak into another. */
export function useClientPki(): { dir: string; restore(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-opcua-cli-"));
  const previous = process.env.OTB_OPCUA_PKI_DIR;
  process.env.OTB_OPCUA_PKI_DIR = dir;
  return {
    dir,
    restore() {
      if (previous === undefined) delete process.env.OTB_OPCUA_PKI_DIR;
      else process.env.OTB_OPCUA_PKI_DIR = previous;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function endpointConfig(endpointUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "ep",
    type: "otb-opcua-endpoint",
    endpointUrl,
    securityMode: "None",
    securityPolicy: "None",
    auth: "anonymous",
    keepAliveInterval: "1000",
    requestTimeout: "3000",
    reconnectMaxDelay: "2000",
    sessionTimeout: "60000",
    ...extra,
  };
}

export function tag(nodeId: string, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { nodeId, tag: name, samplingInterval: 100, deadbandType: "none", deadband: 0, queueSize: 10, ...extra };
}

/** endpoint + otb-opcua-in -> helper "out"; Catch -> helper "caught"; Status -> helper "status". */
export function opcuaFlow(endpointUrl: string, tags: unknown[], opts: { endpoint?: Record<string, unknown>; publishingInterval?: number } = {}): Array<Record<string, unknown>> {
  return tab([
    endpointConfig(endpointUrl, opts.endpoint),
    { id: "in", type: "otb-opcua-in", name: "line1 plc", endpoint: "ep", tags, publishingInterval: String(opts.publishingInterval ?? 200), wires: [["out"]] },
    { id: "out", type: "helper" },
    { id: "catcher", type: "catch", scope: ["in"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper" },
    { id: "statusWatch", type: "status", scope: ["in"], wires: [["statuses"]] },
    { id: "statuses", type: "helper" },
  ]);
}

/** Records every batch, every caught error and every status the test flow produces. */
export class Recorder {
  batches: Signal[][] = [];
  errors: string[] = [];
  statuses: Array<{ fill?: string; shape?: string; text?: string }> = [];

  constructor() {
    (helper.getNode("out") as unknown as NodeJS.EventEmitter).on("input", (msg: { payload: Signal[] }) => this.batches.push(msg.payload));
    (helper.getNode("caught") as unknown as NodeJS.EventEmitter).on("input", (msg: { error: { message: string } }) => this.errors.push(msg.error.message));
    (helper.getNode("statuses") as unknown as NodeJS.EventEmitter).on("input", (msg: { status: { fill?: string; shape?: string; text?: string } }) => this.statuses.push(msg.status));
  }

  signals(tagName?: string): Signal[] {
    const all = this.batches.flat();
    return tagName ? all.filter((s) => s.tag === tagName) : all;
  }

  commLostBatches(): Signal[][] {
    return this.batches.filter((b) => b.length > 0 && b.every((s) => s.reasons?.includes("comm_lost")));
  }

  lastStatus(): { fill?: string; shape?: string; text?: string } | undefined {
    return this.statuses[this.statuses.length - 1];
  }
}
