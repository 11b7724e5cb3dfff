/**
 * Float64 linear least squares min ‖A x − b‖² by Householder QR with column pivoting (Golub &
 * Van Loan §5.4.1): works for tall, wide and rank-deficient A, which the subspace known-answer
 * tests need (a d-dimensional subspace against n constraints, d below, at or above n).
 */

export interface LeastSquaresResult {
  /** A basic solution (zeros on the columns beyond the numerical rank). */
  x: Float64Array;
  /** ‖A x − b‖², from the part of Qᵀb outside the column space. */
  residual: number;
  rank: number;
}

/**
 * @param a row-major rows × cols (not modified); @param b length rows.
 * Columns whose remaining norm falls below tol·(largest column norm) count as dependent.
 */
export function leastSquares(a: Float64Array, rows: number, cols: number, b: Float64Array, tol = 1e-10): LeastSquaresResult {
  if (a.length !== rows * cols || b.length !== rows) throw new RangeError(`leastSquares: ${a.length} values for ${rows} × ${cols}, b of ${b.length}`);
  const r = Float64Array.from(a);
  const y = Float64Array.from(b);
  const perm = Int32Array.from({ length: cols }, (_, j) => j);
  const norms = new Float64Array(cols);
  for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) norms[j] += r[i * cols + j] ** 2;
  const first = Math.sqrt(Math.max(0, ...norms));
  const steps = Math.min(rows, cols);
  let rank = 0;
  for (let k = 0; k < steps; k++) {
    // Pivot: the column with the largest norm below row k (recomputed: exact, and cheap at these sizes).
    let best = k, bestNorm = -1;
    for (let j = k; j < cols; j++) {
      let s = 0;
      for (let i = k; i < rows; i++) s += r[i * cols + j] ** 2;
      if (s > bestNorm) { bestNorm = s; best = j; }
    }
    if (Math.sqrt(bestNorm) <= tol * first || bestNorm === 0) break;
    if (best !== k) {
      for (let i = 0; i < rows; i++) { const t = r[i * cols + k]; r[i * cols + k] = r[i * cols + best]; r[i * cols + best] = t; }
      const t = perm[k]; perm[k] = perm[best]; perm[best] = t;
    }
    // Householder vector v for column k below row k: (I − 2vvᵀ/vᵀv) maps it to −sign·‖·‖ e_k.
    const alpha = Math.sqrt(bestNorm) * (r[k * cols + k] >= 0 ? -1 : 1);
    const v = new Float64Array(rows - k);
    for (let i = k; i < rows; i++) v[i - k] = r[i * cols + k];
    v[0] -= alpha;
    let vv = 0;
    for (let i = 0; i < v.length; i++) vv += v[i] * v[i];
    if (vv > 0) {
      for (let j = k; j < cols; j++) {
        let s = 0;
        for (let i = k; i < rows; i++) s += v[i - k] * r[i * cols + j];
        const f = (2 * s) / vv;
        for (let i = k; i < rows; i++) r[i * cols + j] -= f * v[i - k];
      }
      let s = 0;
      for (let i = k; i < rows; i++) s += v[i - k] * y[i];
      const f = (2 * s) / vv;
      for (let i = k; i < rows; i++) y[i] -= f * v[i - k];
    }
    rank = k + 1;
  }
  // Back substitution on the leading rank × rank triangle.
  const z = new Float64Array(cols);
  for (let k = rank - 1; k >= 0; k--) {
    let s = y[k];
    for (let j = k + 1; j < rank; j++) s -= r[k * cols + j] * z[j];
    z[k] = s / r[k * cols + k];
  }
  const x = new Float64Array(cols);
  for (let k = 0; k < cols; k++) x[perm[k]] = z[k];
  let residual = 0;
  for (let i = rank; i < rows; i++) residual += y[i] * y[i];
  return { x, residual, rank };
}
