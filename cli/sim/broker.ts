/**
 * The embedded MQTT broker (aedes) on 127.0.0.1, started when no broker URL is given, so the
 * simulator runs on a laptop with nothing else installed.
 */
import * as net from "net";

export interface EmbeddedBroker {
  url: string;
  port: number;
  /** The aedes instance, for tests that watch what clients do (subscribe, publish). */
  broker: import("aedes").default;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(port: number): Promise<EmbeddedBroker> {
  // aedes 0.51 is CommonJS with a factory export.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const createAedes = require("aedes") as () => import("aedes").default;
  const broker = createAedes();
  const server = net.createServer(broker.handle);
  const sockets = new Set<net.Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  // A client that misbehaves must not take the simulator down.
  broker.on("clientError", () => undefined);
  broker.on("connectionError", () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    broker,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        broker.close(() => server.close(() => resolve()));
      }),
  };
}
