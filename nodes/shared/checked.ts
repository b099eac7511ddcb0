/**
 * Checked element access for code compiled with noUncheckedIndexedAccess (tsconfig.strict.json),
 * for nodes/ and cli/ alike: where a loop's bounds already say an index exists, a miss is a bug, so it
 * throws at once with the index instead of letting `undefined` turn into NaN further on.
 */
export function at<T>(a: ArrayLike<T>, i: number): T {
  const v = a[i];
  if (v === undefined) throw new RangeError(`index ${i} is outside 0..${a.length - 1}`);
  return v;
}

/**
 * `at` for a Float64Array: a helper of its own so that its element load stays monomorphic in the
 * detectors' per-sample loops (one `at` shared by plain arrays and typed arrays would not be).
 */
export function atF64(a: Float64Array, i: number): number {
  const v = a[i];
  if (v === undefined) throw new RangeError(`index ${i} is outside 0..${a.length - 1}`);
  return v;
}

/** Element (i, j) of a row-major number[][]. */
export function el(m: ArrayLike<ArrayLike<number>>, i: number, j: number): number {
  return at(at(m, i), j);
}
