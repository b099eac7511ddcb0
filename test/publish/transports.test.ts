/**
 * The conduit over MQTT on WebSockets (ws://), against aedes behind a loopback WebSocket
 * server. `ws` is the WebSocket library mqtt.js and Node-RED already bring.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import { waitFor } from "../helpers/peers";
import { Counter, assertInvariant, connectUser, makeConduit, tempDir } from "./harness";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ws = require("ws") as { WebSocketServer: new (o: { server: http.Server }) => { on(e: "connection", f: (s: unknown) => void): void; close(): void };
  createWebSocketStream(s: unknown): NodeJS.ReadWriteStream };

describe("otb-conduit over WebSockets", function () {
  this.timeout(20_000);

  it("delivers over ws:// like over mqtt://", async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const broker = (require("aedes") as () => { handle(s: NodeJS.ReadWriteStream): void; close(cb: () => void): void })();
    const server = http.createServer();
    const wss = new ws.WebSocketServer({ server });
    wss.on("connection", (socket) => broker.handle(ws.createWebSocketStream(socket)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = tempDir("otb-ws-");
    const counter = await Counter.start(url, "t/#", { protocolVersion: 4 });
    const conduit = makeConduit({ broker: url, queueDir: dir, protocolVersion: "4" });
    connectUser(conduit);
    try {
      await conduit.submit([1, 2, 3].map((n) => ({ ts: n, kind: 0, topic: "t/ws", payload: Buffer.from(JSON.stringify({ n })) })));
      await waitFor(() => counter.unique === 3, 5000, "three over WebSockets");
      assert.deepEqual(counter.byTopic.get("t/ws"), [1, 2, 3]);
      assertInvariant(conduit);
    } finally {
      await counter.stop();
      await conduit.close();
      wss.close();
      await new Promise<void>((resolve) => broker.close(() => server.close(() => resolve())));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
