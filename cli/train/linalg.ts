/** The little dense linear algebra the detectors need, on plain number[][] (sizes are tens). */
import { at, el } from "../checked";

export type Matrix = number[][];

export function transpose(a: Matrix): Matrix {
  return at(a, 0).map((_, j) => a.map((row) => at(row, j)));
}

export function matmul(a: Matrix, b: Matrix): Matrix {
  const n = at(b, 0).length;
  return a.map((row) => {
    const out = new Array<number>(n).fill(0);
    for (let k = 0; k < row.length; k++) {
      const r = at(row, k);
      if (r === 0) continue;
      const bk = at(b, k);
      for (let j = 0; j < n; j++) out[j] = at(out, j) + r * at(bk, j);
    }
    return out;
  });
}

/** Sample covariance (n - 1) of already-centred rows. */
export function covariance(centred: Matrix): Matrix {
  const p = at(centred, 0).length;
  const c: Matrix = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (const r of centred) for (let i = 0; i < p; i++) for (let j = i; j < p; j++) at(c, i)[j] = el(c, i, j) + at(r, i) * at(r, j);
  const d = Math.max(centred.length - 1, 1);
  for (let i = 0; i < p; i++) for (let j = i; j < p; j++) at(c, j)[i] = at(c, i)[j] = el(c, i, j) / d;
  return c;
}

/**
 * Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: exact to machine
 * precision for the small matrices here, and deterministic. Returns eigenvalues in descending
 * order and the eigenvectors as the COLUMNS of `vectors`, each with its largest entry positive
 * (a fixed sign, so the same data always writes the same model bytes).
 */
export function symmetricEigen(matrix: Matrix): { values: number[]; vectors: Matrix } {
  const n = matrix.length;
  const a = matrix.map((r) => [...r]);
  const v: Matrix = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += el(a, i, j) * el(a, i, j);
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(el(a, p, q)) < 1e-300) continue;
        const theta = (el(a, q, q) - el(a, p, p)) / (2 * el(a, p, q));
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = el(a, k, p);
          const akq = el(a, k, q);
          at(a, k)[p] = c * akp - s * akq;
          at(a, k)[q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = el(a, p, k);
          const aqk = el(a, q, k);
          at(a, p)[k] = c * apk - s * aqk;
          at(a, q)[k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = el(v, k, p);
          const vkq = el(v, k, q);
          at(v, k)[p] = c * vkp - s * vkq;
          at(v, k)[q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => el(a, y, y) - el(a, x, x));
  const values = order.map((i) => el(a, i, i));
  const vectors: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  order.forEach((col, j) => {
    let big = 0;
    for (let i = 0; i < n; i++) if (Math.abs(el(v, i, col)) > Math.abs(el(v, big, col))) big = i;
    const sign = el(v, big, col) < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) at(vectors, i)[j] = sign * el(v, i, col);
  });
  return { values, vectors };
}

/** Inverse of a symmetric positive definite matrix via Cholesky; throws if it is not SPD. */
export function spdInverse(m: Matrix): Matrix {
  const n = m.length;
  const l: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = el(m, i, j);
      for (let k = 0; k < j; k++) s -= el(l, i, k) * el(l, j, k);
      if (i === j) {
        if (!(s > 0)) throw new Error("matrix is not positive definite");
        at(l, i)[i] = Math.sqrt(s);
      } else at(l, i)[j] = s / el(l, j, j);
    }
  }
  // Solve L Y = I, then L^T X = Y.
  const inv: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let col = 0; col < n; col++) {
    const y = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      let s = i === col ? 1 : 0;
      for (let k = 0; k < i; k++) s -= el(l, i, k) * at(y, k);
      y[i] = s / el(l, i, i);
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = at(y, i);
      for (let k = i + 1; k < n; k++) s -= el(l, k, i) * el(inv, k, col);
      at(inv, i)[col] = s / el(l, i, i);
    }
  }
  return inv;
}
