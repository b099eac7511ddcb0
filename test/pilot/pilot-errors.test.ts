/**
 * The pilot's "errors" debug node (issue 20): a refused connection reaches the sidebar and the log
 * as one line, "<node>: <reason>", not a stack trace. The pilot's own Catch and debug nodes run
 * beside its Modbus device and reader, pointed at a port nobody listens on (a real refused TCP
 * connection).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as os from "os";
import otbModbusDevice = require("../../nodes/otb-modbus-device/otb-modbus-device");
import otbModbusIn = require("../../nodes/otb-modbus-in/otb-modbus-in");
import { REPO_ROOT } from "../../cli/node-red-runner";
import { waitFor } from "../helpers/peers";
import { helper, tab, withCoreNodes } from "../helpers/red";

type FlowNode = Record<string, unknown> & { id: string; type: string; name?: string; z?: string };
const pilot = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "flows", "single-line-pilot.json"), "utf8")) as FlowNode[];
const debugNode = require(require.resolve("@node-red/nodes/core/common/21-debug.js")) as (RED: unknown) => void;

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe("single-line pilot: the errors debug node", function () {
  this.timeout(30_000);
  let queueDir: string;
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(queueDir, { recursive: true, force: true });
  });

  it("prints a refused Modbus connection as one line with the node and the reason", async () => {
    queueDir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-pilot-errors-"));
    const port = await closedPort();
    const pick = (type: string, name?: string): FlowNode => pilot.find((n) => n.type === type && (name === undefined || n.name === name))!;
    const device = { ...pick("otb-modbus-device"), host: "127.0.0.1", port: String(port) };
    const reader = { ...pick("otb-modbus-in"), z: undefined, mapFile: path.join(REPO_ROOT, "flows", "catalog", "simulator-modbus-map.json"), wires: [[]] };
    const catcher = { ...pick("catch"), z: undefined, scope: null };
    const errors = { ...pick("debug", "errors"), z: undefined };
    await helper.load(withCoreNodes([otbModbusDevice, otbModbusIn, debugNode]), tab([device, reader, catcher, errors]));
    const node = helper.getNode(errors.id) as unknown as { log(msg: unknown): void };
    const printed: string[] = [];
    const original = node.log.bind(node);
    node.log = (m: unknown) => {
      printed.push(String(m));
      original(m);
    };
    await waitFor(() => printed.length > 0, 20_000, "an error printed by the pilot's errors debug node");
    for (const line of printed) {
      assert.doesNotMatch(line, /\n/, `one line: ${JSON.stringify(line)}`);
      assert.doesNotMatch(line, /\bat [\w.<>]+ \(|node:internal/, `no stack trace: ${line}`);
    }
    assert.match(printed[0], /^meter and legacy machine \(Modbus TCP\): .*ECONNREFUSED/, `node name and reason: ${printed[0]}`);
    console.log(`      printed: ${printed[0]}`);
  });
});
