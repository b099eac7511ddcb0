/**
 * Map.get by tag for the items of a batch, remembering which tag each position held last time.
 * A source that polls a fixed tag list sends its batches in the same order every time, usually
 * with the same string objects, so position i's tag is compared with the one seen there before
 * (a pointer comparison when it is the same string) instead of hashing it into the map: the
 * three stages of the pilot's chain looked a tag up once per Signal each, 8 ns a lookup.
 *
 * Only for a map whose entries never change once set (rule states, window tags, topics cached per
 * tag): what is remembered is what map.get returned, and stays what it would return. A map that
 * still gains entries (`grows`) has only its hits remembered, since a miss may be set later.
 */
export class TagLookup<V> {
  private readonly tags: Array<string | undefined> = [];
  private readonly values: Array<V | undefined> = [];

  constructor(private readonly map: ReadonlyMap<string, V>, private readonly grows = false, private readonly positions = 4096) {}

  /** map.get(tag), for the item at `index` of its batch (an index out of range is looked up, not remembered). */
  get(tag: string, index: number): V | undefined {
    if (index < 0 || index >= this.positions) return this.map.get(tag);
    if (this.tags[index] === tag) return this.values[index];
    const value = this.map.get(tag);
    if (value !== undefined || !this.grows) {
      // Filled in order, so the arrays stay dense (a hole would make every later read slower).
      while (this.tags.length < index) {
        this.tags.push(undefined);
        this.values.push(undefined);
      }
      this.tags[index] = tag;
      this.values[index] = value;
    }
    return value;
  }
}
