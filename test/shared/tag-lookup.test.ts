/**
 * TagLookup remembers each batch position's tag: whatever the batches look like (same order,
 * shuffled, other lengths, equal tags in new string objects, tags the map lacks), it must answer
 * exactly what map.get answers, and for a map that still grows, a tag set after a miss is found.
 */
import { strict as assert } from "assert";
import { TagLookup } from "../../nodes/shared/tag-lookup";
import { rng } from "./differential";

describe("TagLookup", () => {
  const tags = ["a", "pump1.flow", "pump1.motor.current", "b", "c"];
  const map = new Map<string, number>(tags.slice(0, 4).map((t, i) => [t, i]));

  it("answers map.get for every position of generated batches", () => {
    const lookup = new TagLookup(map);
    const r = rng(7);
    for (let b = 0; b < 500; b++) {
      // Mostly the same layout, sometimes shuffled, shorter, longer, or with copies of the strings.
      const length = r() < 0.8 ? 10 : Math.floor(r() * 20);
      const shuffled = r() < 0.2;
      for (let i = 0; i < length; i++) {
        let tag = tags[shuffled ? Math.floor(r() * tags.length) : i % tags.length]!;
        if (r() < 0.1) tag = [...tag].join(""); // equal, but another string object
        assert.equal(lookup.get(tag, i), map.get(tag), `batch ${b} [${i}] ${tag}`);
      }
    }
  });

  it("looks up an index outside the remembered positions", () => {
    const lookup = new TagLookup(map, false, 2);
    assert.equal(lookup.get("b", -1), 3);
    assert.equal(lookup.get("b", 5), 3);
    assert.equal(lookup.get("c", 5), undefined);
  });

  it("finds a tag set after a miss when the map grows", () => {
    const growing = new Map<string, string>();
    const lookup = new TagLookup(growing, true);
    assert.equal(lookup.get("x", 0), undefined);
    growing.set("x", "line/x");
    assert.equal(lookup.get("x", 0), "line/x");
    assert.equal(lookup.get("y", 0), undefined);
  });
});
