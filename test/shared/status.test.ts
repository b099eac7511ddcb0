import { strict as assert } from "assert";
import * as sinon from "sinon";
import { StatusReporter } from "../../nodes/shared";
import type { NodeStatus } from "../../nodes/shared/red";

describe("status reporter", () => {
  let clock: sinon.SinonFakeTimers;
  let seen: NodeStatus[];
  let reporter: StatusReporter;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000 });
    seen = [];
    reporter = new StatusReporter({ status: (s: string | NodeStatus) => seen.push(s as NodeStatus) }, { idleAfterMs: 5000, refreshMs: 1000 });
  });
  afterEach(() => clock.restore());

  it("is green only while data flows, and turns to 'no data' by itself", () => {
    reporter.flowing("12 tags");
    assert.deepEqual(seen.at(-1), { fill: "green", shape: "dot", text: "12 tags" });
    clock.tick(4000);
    reporter.flowing("12 tags");
    clock.tick(4999);
    assert.equal(seen.at(-1)?.fill, "green", "data 5 s ago is still flowing");
    clock.tick(1);
    assert.equal(seen.at(-1)?.fill, "yellow");
    assert.match(String(seen.at(-1)?.text), /no data 5s/);
    reporter.flowing("12 tags");
    assert.equal(seen.at(-1)?.fill, "green", "back to green on the next data");
  });

  it("does not flood the editor: identical and too-frequent updates are not sent", () => {
    for (let i = 0; i < 1000; i++) {
      reporter.flowing(`${i} values`);
      clock.tick(1);
    }
    assert.ok(seen.length <= 2, `${seen.length} updates for 1000 calls in 1 s`);
    reporter.down("disconnected");
    reporter.down("disconnected");
    assert.equal(seen.filter((s) => s.text === "disconnected").length, 1);
  });

  it("stops the idle timer when the connection goes down or the node closes", () => {
    reporter.flowing("ok");
    reporter.down("broker lost");
    clock.tick(60_000);
    assert.equal(seen.at(-1)?.text, "broker lost");
    reporter.flowing("ok");
    reporter.close();
    const n = seen.length;
    clock.tick(60_000);
    reporter.error("after close");
    assert.equal(seen.length, n);
  });
});
