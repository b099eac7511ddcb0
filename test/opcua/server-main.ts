/**
 * The test server as a child process, for the benchmark (so the server's CPU is not counted as
 * the client's): `node dist/test/opcua/server-main.js <port> <bulkItems> <tickMs>`. Prints
 * "READY <port>" when it listens and stops on SIGTERM or when stdin closes.
 */
import { startTestServer } from "./opcua-test-server";

async function main(): Promise<void> {
  const [port, items, tick] = process.argv.slice(2).map(Number);
  const server = await startTestServer({ port, bulkItems: items, tickMs: tick || 100 });
  const stop = (): void => {
    server.close().finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.stdin.on("end", stop);
  process.stdin.resume();
  console.log(`READY ${server.port}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
