/** The committed tag catalogs equal what the simulator serves, and the register codec is exact. */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { CATALOG_FILES, catalogText, modbusCatalog, opcuaCatalog } from "../../cli/sim/catalog";
import { MODBUS_MAP, decodeRegisters, encodeRegisters, registerCount, type RegisterDef } from "../../cli/sim/modbus-map";

const CATALOG_DIR = path.join(__dirname, "..", "..", "..", "flows", "catalog");

describe("sim: catalogs and register map", () => {
  it("flows/catalog files are exactly the simulator's tables (regenerate with otbridge simulate --write-catalogs flows/catalog)", () => {
    assert.strictEqual(fs.readFileSync(path.join(CATALOG_DIR, CATALOG_FILES.opcua), "utf8"), catalogText(opcuaCatalog()));
    assert.strictEqual(fs.readFileSync(path.join(CATALOG_DIR, CATALOG_FILES.modbus), "utf8"), catalogText(modbusCatalog()));
  });

  it("the register map has no overlapping registers and covers every type and both word orders", () => {
    const types = new Set<string>();
    const orders = new Set<string>();
    for (const device of MODBUS_MAP.devices) {
      const used = new Map<string, string>();
      for (const def of device.registers) {
        types.add(def.type);
        if (registerCount(def) > 1 && def.type !== "string") orders.add(`${def.type}:${def.wordOrder}`);
        for (let i = 0; i < registerCount(def); i++) {
          const key = `${def.area}:${def.address + i}`;
          assert.ok(!used.has(key), `${def.tag} overlaps ${used.get(key)} at ${key}`);
          used.set(key, def.tag);
          assert.ok(def.address + i < device.addressLimit);
        }
      }
    }
    for (const t of ["bool", "int16", "uint16", "int32", "uint32", "float32", "float64", "string"]) assert.ok(types.has(t), t);
    assert.ok(orders.has("float32:BE") && orders.has("float32:LE"));
    assert.ok(MODBUS_MAP.devices.flatMap((d) => d.registers).some((r) => r.scale !== undefined && r.scale !== 1 && r.type === "int16"), "a scaled signed int");
  });

  it("encodes word orders as documented (ABCD vs CDAB) and round-trips every type", () => {
    const f32 = (wordOrder: "BE" | "LE"): RegisterDef => ({ tag: "x", area: "holding", address: 0, type: "float32", wordOrder, description: "" });
    assert.deepStrictEqual(encodeRegisters(f32("BE"), 230.5), [0x4366, 0x8000]);
    assert.deepStrictEqual(encodeRegisters(f32("LE"), 230.5), [0x8000, 0x4366]);
    const i16: RegisterDef = { tag: "t", area: "holding", address: 0, type: "int16", scale: 0.1, description: "" };
    assert.deepStrictEqual(encodeRegisters(i16, -12.5), [0xff83]); // -125 two's complement
    assert.deepStrictEqual(encodeRegisters({ ...i16, byteOrder: "LE" }, -12.5), [0x83ff]);
    const samples: Record<string, number | string | boolean> = { bool: true, int16: -1234, uint16: 54321, int32: -123456789, uint32: 3_000_000_000, float32: 0.15625, float64: 1234.5678901, string: "GLYCOL-30" };
    for (const [type, value] of Object.entries(samples)) {
      for (const wordOrder of ["BE", "LE"] as const) {
        for (const byteOrder of ["BE", "LE"] as const) {
          const def: RegisterDef = { tag: "t", area: "holding", address: 0, type: type as RegisterDef["type"], length: 8, wordOrder, byteOrder, description: "" };
          const words = encodeRegisters(def, value);
          assert.strictEqual(words.length, registerCount(def));
          assert.ok(words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff));
          assert.strictEqual(decodeRegisters(def, words), value, `${type} ${wordOrder}/${byteOrder}`);
        }
      }
    }
  });

  it("saturates integers at the type's limits instead of wrapping", () => {
    const u16: RegisterDef = { tag: "t", area: "input", address: 0, type: "uint16", description: "" };
    assert.deepStrictEqual(encodeRegisters(u16, 70000), [0xffff]);
    assert.deepStrictEqual(encodeRegisters(u16, -5), [0]);
  });
});
