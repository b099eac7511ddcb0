import { strict as assert } from "assert";
import * as net from "net";
import { backoffDelay, SharedConnection, type ConnectionState } from "../../nodes/shared";
import type { Node, NodeStatus } from "../../nodes/shared/red";
import { freePort, waitFor } from "../helpers/peers";

/** A real TCP peer that counts the connections it holds. */
async function tcpServer(port: number): Promise<{ sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => srv.listen(port, "127.0.0.1", () => r()));
  return {
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** The adapter a protocol config node would write: open a socket, report its loss. */
function tcpConnection(port: number): SharedConnection<net.Socket> {
  const conn: SharedConnection<net.Socket> = new SharedConnection<net.Socket>(
    {
      open: () =>
        new Promise((resolve, reject) => {
          const s = net.connect(port, "127.0.0.1");
          s.once("connect", () => {
            s.on("close", () => conn.lost(new Error("peer closed")));
            resolve(s);
          });
          s.once("error", reject);
        }),
      close: async (s) => {
        s.removeAllListeners("close");
        s.destroy();
      },
    },
    { initialMs: 20, maxMs: 100, factor: 2, jitter: 0 },
  );
  return conn;
}

function user(id: string): Node & { seen: NodeStatus[] } {
  const seen: NodeStatus[] = [];
  return { id, seen, status: (s: NodeStatus) => seen.push(s), warn: () => undefined } as unknown as Node & { seen: NodeStatus[] };
}

describe("shared connection (users pattern)", () => {
  it("opens one connection for all users and fans its state out to each", async () => {
    const port = await freePort();
    const server = await tcpServer(port);
    const conn = tcpConnection(port);
    const a = user("a");
    const b = user("b");
    conn.register(a);
    conn.register(b);
    await waitFor(() => conn.state === "connected", 2000, "connected");
    assert.equal(server.sockets.size, 1);
    assert.equal(conn.userCount, 2);
    for (const u of [a, b]) assert.match(String(u.seen.at(-1)?.text), /connected, waiting for data/);
    assert.notEqual(a.seen.at(-1)?.fill, "green", "connected is not 'data flows'");
    await conn.close();
    await server.close();
  });

  it("retries with backoff while the peer is absent and connects once it appears", async () => {
    const port = await freePort();
    const conn = tcpConnection(port);
    const states: ConnectionState[] = [];
    conn.on("state", (s: ConnectionState) => states.push(s));
    const a = user("a");
    conn.register(a);
    await waitFor(() => states.filter((s) => s === "disconnected").length >= 3, 3000, "three failed attempts");
    assert.equal(a.seen.at(-1)?.fill === "red" || a.seen.at(-1)?.fill === "yellow", true);
    const server = await tcpServer(port);
    await waitFor(() => conn.state === "connected", 3000, "connected after the peer appeared");
    assert.equal(server.sockets.size, 1);
    await conn.close();
    await server.close();
  });

  it("reconnects after the peer drops it, with exactly one connection afterwards", async () => {
    const port = await freePort();
    const server = await tcpServer(port);
    const conn = tcpConnection(port);
    conn.register(user("a"));
    await waitFor(() => server.sockets.size === 1, 2000, "first connection");
    for (const s of server.sockets) s.destroy();
    await waitFor(() => conn.state === "disconnected" || conn.state === "connecting", 2000, "loss noticed");
    await waitFor(() => conn.state === "connected" && server.sockets.size === 1, 3000, "reconnected");
    await conn.close();
    await server.close();
  });

  it("keeps the connection across a redeploy and closes it when the last user is removed", async () => {
    const port = await freePort();
    const server = await tcpServer(port);
    const conn = tcpConnection(port);
    const a = user("a");
    const b = user("b");
    conn.register(a);
    conn.register(b);
    await waitFor(() => server.sockets.size === 1, 2000, "connected");
    await conn.deregister(a, false);
    await conn.deregister(b, false);
    assert.equal(conn.state, "connected", "a restart (removed=false) keeps the session");
    conn.register(a);
    await conn.deregister(a, true);
    assert.equal(conn.state, "closed");
    await waitFor(() => server.sockets.size === 0, 2000, "server saw the close");
    await server.close();
  });

  it("stops retrying once closed", async () => {
    const port = await freePort();
    const conn = tcpConnection(port);
    let retries = 0;
    conn.on("retry", () => retries++);
    conn.register(user("a"));
    await waitFor(() => retries >= 1, 2000, "a retry");
    await conn.close();
    const after = retries;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(retries, after);
    assert.equal(conn.state, "closed");
  });

  it("backoff grows, is capped, and jitters within its band", () => {
    const o = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 };
    assert.equal(backoffDelay(0, o, () => 0.5), 500);
    assert.equal(backoffDelay(3, o, () => 0.5), 4000);
    assert.equal(backoffDelay(20, o, () => 0.5), 30_000);
    assert.equal(backoffDelay(0, o, () => 0), 400);
    assert.equal(backoffDelay(0, o, () => 1), 600);
  });
});
