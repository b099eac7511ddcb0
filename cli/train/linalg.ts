/** The little dense linear algebra the detectors need, on plain number[][] (sizes are tens). */

export type Matrix = number[][];

export function transpose(a: Matrix): Matrix {
  return a[0].map((_, j) => a.map((row) => row[j]));
}

export function matmul(a: Matrix, b: Matrix): Matrix {
  const n = b[0].length;
  return a.map((row) => {
    const out = new Array<number>(n).fill(0);
    for (let k = 0; k < row.length; k++) {
      const r = row[k];
      if (r === 0) continue;
      const bk = b[k];
      for (let j = 0; j < n; j++) out[j] += r * bk[j];
    }
    return out;
  });
}

/** Sample covariance (n - 1) of already-centred rows. */
export function covariance(centred: Matrix): Matrix {
  const p = centred[0].length;
  const c: Matrix = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (const r of centred) for (let i = 0; i < p; i++) for (let j = i; j < p; j++) c[i][j] += r[i] * r[j];
  const d = Math.max(centred.length - 1, 1);
  for (let i = 0; i < p; i++) for (let j = i; j < p; j++) c[j][i] = c[i][j] = c[i][j] / d;
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
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i][j] * a[i][j];
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y][y] - a[x][x]);
  const values = order.map((i) => a[i][i]);
  const vectors: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  order.forEach((col, j) => {
    let big = 0;
    for (let i = 0; i < n; i++) if (Math.abs(v[i][col]) > Math.abs(v[big][col])) big = i;
    const sign = v[big][col] < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) vectors[i][j] = sign * v[i][col];
  });
  return { values, vectors };
}

/** Inverse of a symmetric positive definite matrix via Cholesky; throws if it is not SPD. */
export function spdInverse(m: Matrix): Matrix {
  const n = m.length;
  const l: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = m[i][j];
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k];
      if (i === j) {
        if (!(s > 0)) throw new Error("matrix is not positive definite");
        l[i][i] = Math.sqrt(s);
      } else l[i][j] = s / l[j][j];
    }
  }
  // Solve L Y = I, then L^T X = Y.
  const inv: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let col = 0; col < n; col++) {
    const y = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      let s = i === col ? 1 : 0;
      for (let k = 0; k < i; k++) s -= l[i][k] * y[k];
      y[i] = s / l[i][i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i];
      for (let k = i + 1; k < n; k++) s -= l[k][i] * inv[k][col];
      inv[i][col] = s / l[i][i];
    }
  }
  return inv;
}
