// Minimal types for node-red-node-test-helper 0.3 (it ships none).
declare module "node-red-node-test-helper" {
  import type { Node } from "node-red";
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type NodeInit = (RED: any) => void;
  interface TestHelper {
    init(nodeRedRuntime: string, userSettings?: Record<string, unknown>): void;
    load(nodes: NodeInit | NodeInit[], flow: unknown[], credentials?: Record<string, unknown>): Promise<void>;
    unload(): Promise<void>;
    getNode(id: string): Node & Record<string, any>;
    clearFlows(): Promise<void>;
    startServer(done?: (err?: Error) => void): void;
    stopServer(done?: (err?: Error) => void): void;
    settings(userSettings: Record<string, unknown>): void;
    url(): string;
    request(): any;
    log(): any;
    _RED: any;
  }
  const helper: TestHelper;
  export = helper;
}
