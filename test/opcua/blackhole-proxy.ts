/**
 * A loopback TCP proxy that can black-hole traffic: while `blackhole()` is on, bytes in both
 * directions are read and thrown away and no FIN or RST is sent, so each side sees a silent
 * peer, as with a pulled cable or a dropping firewall. `heal()` forwards again; connections that
 * lost bytes are broken streams by then, so heal() resets them (as the peers' TCP stacks would
 * once retransmissions hit a mismatching state) and new connections pass cleanly.
 */
import * as net from "net";

export interface BlackholeProxy {
  port: number;
  blackhole(): void;
  heal(): void;
  /** Connections accepted so far (the client's reconnections show here). */
  readonly accepted: number;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  server: net.Socket;
  damaged: boolean;
}

export async function startBlackholeProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<BlackholeProxy> {
  const pairs = new Set<Pair>();
  let holed = false;
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(targetPort, targetHost);
    const pair: Pair = { client, server: upstream, damaged: holed };
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket): void => {
      from.on("data", (chunk) => {
        if (holed || pair.damaged) {
          pair.damaged = true;
          return; // dropped on the floor
        }
        to.write(chunk);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    blackhole() {
      holed = true;
    },
    heal() {
      holed = false;
      for (const p of [...pairs]) {
        if (!p.damaged) continue;
        pairs.delete(p);
        p.client.resetAndDestroy();
        p.server.resetAndDestroy();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of pairs) {
          p.client.destroy();
          p.server.destroy();
        }
        pairs.clear();
        server.close(() => resolve());
      }),
  };
}
