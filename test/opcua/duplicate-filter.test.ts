/**
 * DuplicateFilter on its own, with node-opcua's own message types: what is a re-send, what is a
 * new subscription instance (server restart, sequence wrap), and when an unchanged sample is owed.
 */
import * as assert from "assert";
import { DataChangeNotification, DataType, DataValue, MonitoredItemNotification, NotificationMessage, Variant } from "node-opcua";
import { DuplicateFilter } from "../../nodes/otb-opcua-in/duplicate-filter";

const t0 = Date.UTC(2026, 11, 3, 12);

function sample(value: number, at: number): DataValue {
  return new DataValue({ value: new Variant({ dataType: DataType.Double, value }), sourceTimestamp: new Date(at), serverTimestamp: new Date(at) });
}

function message(seq: number, values: Array<[handle: number, value: number, at: number]>): NotificationMessage {
  const monitoredItems = values.map(([clientHandle, v, at]) => new MonitoredItemNotification({ clientHandle, value: sample(v, at) }));
  return new NotificationMessage({ sequenceNumber: seq, notificationData: [new DataChangeNotification({ monitoredItems })] });
}

describe("otb-opcua-in duplicate filter", () => {
  it("drops a message re-sent with the same sequence number and content", () => {
    const f = new DuplicateFilter(2);
    assert.deepStrictEqual(f.message(message(1, [[1, 10, t0]])), { duplicate: false, newInstance: undefined });
    assert.deepStrictEqual(f.message(message(2, [[1, 11, t0 + 100]])), { duplicate: false, newInstance: undefined });
    assert.deepStrictEqual(f.message(message(2, [[1, 11, t0 + 100]])), { duplicate: true });
    assert.deepStrictEqual(f.message(message(1, [[1, 10, t0]])), { duplicate: true });
  });

  it("takes a seen sequence number with other content for a new instance (restart, same subscription id) and keeps what follows", () => {
    const f = new DuplicateFilter(1);
    for (let seq = 1; seq <= 20; seq++) f.message(message(seq, [[1, seq, t0 + seq * 100]]));
    const again = f.message(message(1, [[1, 500, t0 + 50_000]]));
    assert.strictEqual(again.duplicate, false);
    assert.match((again as { newInstance?: string }).newInstance ?? "", /sequence number 1 came again/);
    // The restarted instance's 2, 3, ... are new too, although the old instance had them.
    for (let seq = 2; seq <= 20; seq++) assert.deepStrictEqual(f.message(message(seq, [[1, 500 + seq, t0 + 50_000 + seq * 100]])), { duplicate: false, newInstance: undefined });
  });

  it("takes a sequence number that goes backwards without having been seen for a new instance (wrap, restart past the window)", () => {
    const f = new DuplicateFilter(1);
    f.message(message(4_294_967_294, [[1, 1, t0]]));
    f.message(message(4_294_967_295, [[1, 2, t0 + 100]]));
    const wrapped = f.message(message(1, [[1, 3, t0 + 200]]));
    assert.strictEqual(wrapped.duplicate, false);
    assert.match((wrapped as { newInstance?: string }).newInstance ?? "", /went back from 4294967295 to 1/);
  });

  it("drops a repeated sample of a tag unless the tag is owed a value", () => {
    const f = new DuplicateFilter(2);
    assert.strictEqual(f.repeated(0, sample(1, t0), false), false);
    assert.strictEqual(f.repeated(0, sample(1, t0), false), true, "same source time, value and status");
    assert.strictEqual(f.repeated(0, sample(1, t0), true), false, "owed: emitted again after comm_lost");
    assert.strictEqual(f.repeated(0, sample(1, t0 + 100), false), false, "a new sample of an unchanged value");
    assert.strictEqual(f.repeated(1, sample(1, t0 + 100), false), false, "per tag");
    f.reset();
    assert.strictEqual(f.repeated(0, sample(1, t0 + 100), false), false, "nothing remembered after a reset");
  });
});
