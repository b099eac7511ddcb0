import * as assert from "assert";
import { planBlocks, planPerTag, PROTOCOL_LIMITS } from "../../nodes/otb-modbus-in/coalesce";
import { decodeRegisters } from "../../nodes/otb-modbus-in/decode";
import { parseRegisterMap, parseTagRow, type DataType, type Order, type TagDef } from "../../nodes/otb-modbus-in/register-map";
import { wordsFor } from "./encode";

const tag = (over: Partial<TagDef>): TagDef => ({ tag: "t", area: "holding", address: 0, type: "uint16", length: 1, byteOrder: "big", wordOrder: "big", scale: 1, offset: 0, group: "default", ...over });

describe("modbus register map: decoding", () => {
  const cases: Array<[DataType, number]> = [
    ["int16", -12345], ["uint16", 54321], ["int32", -123456789], ["uint32", 4000000000], ["float32", 3.1415927410125732], ["float64", -2.718281828459045],
  ];
  for (const [type, value] of cases) {
    for (const byteOrder of ["big", "little"] as Order[]) {
      for (const wordOrder of ["big", "little"] as Order[]) {
        it(`${type} ${byteOrder}-byte ${wordOrder}-word decodes ${value}`, () => {
          const words = wordsFor(type, value, byteOrder, wordOrder);
          assert.strictEqual(decodeRegisters(tag({ type, byteOrder, wordOrder }), words), value);
        });
      }
    }
  }

  it("ABCD/CDAB/BADC/DCBA of 0x41424344 match the byte sequences device manuals print", () => {
    const expect = { ABCD: [0x4142, 0x4344], CDAB: [0x4344, 0x4142], BADC: [0x4241, 0x4443], DCBA: [0x4443, 0x4241] };
    for (const [order, words] of Object.entries(expect)) {
      const t = parseTagRow({ tag: "x", address: 0, type: "uint32", order }, 0);
      assert.strictEqual(decodeRegisters(t, words), 0x41424344, order);
    }
  });

  it("strings stop at NUL, drop trailing spaces, and honour byte order", () => {
    assert.strictEqual(decodeRegisters(tag({ type: "string", length: 4 }), [0x5045, 0x4c4c, 0x4554, 0x0000]), "PELLET");
    assert.strictEqual(decodeRegisters(tag({ type: "string", length: 2, byteOrder: "little" }), [0x4241, 0x2043]), "ABC");
  });

  it("bool reads a whole register or one bit of it; scale and offset apply to numbers", () => {
    assert.strictEqual(decodeRegisters(tag({ type: "bool" }), [0]), false);
    assert.strictEqual(decodeRegisters(tag({ type: "bool", bit: 3 }), [0b1000]), true);
    assert.strictEqual(decodeRegisters(tag({ type: "bool", bit: 2 }), [0b1000]), false);
    assert.strictEqual(decodeRegisters(tag({ type: "int16", scale: 0.1, offset: -40 }), [650]), 650 * 0.1 - 40);
  });
});

describe("modbus register map: coalescing", () => {
  const regs = (addrs: Array<[number, DataType?]>): TagDef[] => addrs.map(([address, type], i) => tag({ tag: `t${i}`, address, type: type ?? "uint16" }));

  it("reads contiguous and near tags in one request, and splits at gaps over the limit", () => {
    const blocks = planBlocks(regs([[0], [1, "float32"], [3], [10], [40], [41, "float64"]]), { ...PROTOCOL_LIMITS, maxGap: 6 });
    assert.deepStrictEqual(blocks.map((b) => [b.start, b.count]), [[0, 11], [40, 5]]);
  });

  it("never exceeds the registers-per-request limit, and uses the fewest requests", () => {
    const tags = regs(Array.from({ length: 300 }, (_, i) => [i] as [number]));
    const blocks = planBlocks(tags, { ...PROTOCOL_LIMITS, maxRegisters: 125 });
    assert.deepStrictEqual(blocks.map((b) => b.count), [125, 125, 50]);
    assert.ok(blocks.every((b) => b.count <= 125));
    // A 2-register tag is never cut across two requests.
    const straddle = planBlocks(regs([[0], [123, "float32"]]), { ...PROTOCOL_LIMITS, maxRegisters: 124, maxGap: 200 });
    assert.deepStrictEqual(straddle.map((b) => [b.start, b.count]), [[0, 1], [123, 2]]);
  });

  it("keeps areas and unit ids in separate requests; bits coalesce up to 2000", () => {
    const mixed = [tag({ tag: "a", area: "coil", type: "bool", address: 0 }), tag({ tag: "b", area: "coil", type: "bool", address: 100 }), tag({ tag: "c", address: 0 }), tag({ tag: "d", address: 1, unitId: 2 })];
    const blocks = planBlocks(mixed, PROTOCOL_LIMITS);
    assert.strictEqual(blocks.length, 3);
    assert.strictEqual(planPerTag(mixed).length, 4);
  });
});

describe("modbus register map: parsing", () => {
  it("accepts catalog spellings and ABCD orders, and fills defaults", () => {
    const map = parseRegisterMap({
      groups: { fast: 200 },
      tags: [
        { name: "line.speed", table: "HR", address: 10, dataType: "REAL", order: "CDAB", unit: "m/min", group: "fast" },
        { tag: "line.running", area: "coils", address: 3 },
        { tag: "recipe", area: "input", address: 20, type: "string", length: 8 },
      ],
    });
    assert.deepStrictEqual(map.groupPeriods, { fast: 200 });
    assert.deepStrictEqual(
      map.tags.map((t) => [t.tag, t.area, t.type, t.byteOrder, t.wordOrder, t.group]),
      [["line.speed", "holding", "float32", "big", "little", "fast"], ["line.running", "coil", "bool", "big", "big", "default"], ["recipe", "input", "string", "big", "big", "default"]],
    );
  });

  it("refuses rows it cannot read, naming the row", () => {
    assert.throws(() => parseRegisterMap([{ tag: "a", address: 1, type: "float128" }]), /row 1 \(a\): type "float128"/);
    assert.throws(() => parseRegisterMap([{ tag: "a", address: 70000 }]), /row 1 \(a\): address/);
    assert.throws(() => parseRegisterMap([{ tag: "a", area: "coil", address: 1, type: "int16" }]), /single bit/);
    assert.throws(() => parseRegisterMap([{ tag: "a", address: 1, type: "string" }]), /length/);
    assert.throws(() => parseRegisterMap([{ tag: "a", address: 1 }, { tag: "a", address: 2 }]), /appears twice/);
    assert.throws(() => parseRegisterMap([{ address: 1 }]), /tag is required/);
    assert.throws(() => parseRegisterMap({ nope: true }), /expected an array/);
  });

  it("loads the simulator's register map as is (devices with unit ids, BE/LE orders, poll groups)", () => {
    const { MODBUS_MAP } = require("../../cli/sim/modbus-map") as typeof import("../../cli/sim/modbus-map");
    const map = parseRegisterMap(JSON.parse(JSON.stringify(MODBUS_MAP)));
    const all = MODBUS_MAP.devices.flatMap((d) => d.registers.map((r) => ({ ...r, unitId: d.unitId })));
    assert.strictEqual(map.tags.length, all.length);
    for (const r of all) {
      const t = map.tags.find((x) => x.tag === r.tag)!;
      assert.deepStrictEqual([t.area, t.address, t.type, t.unitId, t.group, t.unit], [r.area, r.address, r.type, r.unitId, r.pollGroup, r.unit]);
      if (r.wordOrder) assert.strictEqual(t.wordOrder, r.wordOrder === "BE" ? "big" : "little");
    }
  });
});
