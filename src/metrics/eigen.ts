/**
 * Symmetric eigen-solver on Float64Array (tfjs has none; ml-matrix's general EVD is slow at
 * d ≥ 768, DESIGN.md "Facts").
 *
 * Two stages, as in EISPACK tred2/tql2 (Wilkinson & Reinsch, Handbook for Automatic Computation
 * II, 1971) and Numerical Recipes §11.2–11.3, re-laid for row-major memory:
 *
 * 1. Householder tridiagonalisation T = Qᵀ A Q. Row i (i = n−1 … 1) is reduced with the
 *    reflector P = I − u uᵀ/H, H = ‖u‖²/2, chosen so that P·a[i, 0..i−1] = ±‖·‖ e_{i−1}; the
 *    leading i×i block is updated as A ← A − u qᵀ − q uᵀ with p = A u/H, K = uᵀp/(2H),
 *    q = p − K u. Only the lower triangle is touched and every loop walks a row, so the
 *    (4/3)n³ flops stream through contiguous memory.
 * 2. Implicit QL with Wilkinson's shift on T (Bowdler, Martin, Reinsch & Wilkinson 1968),
 *    deflating when |e_m| ≤ ε·‖T‖∞: eigenvalues are then accurate to ε·‖A‖ in absolute terms,
 *    which is all a normwise backward-stable reduction can promise anyway.
 *
 * With vectors, Qᵀ = P₁P₂⋯P_{n−1} is formed explicitly and the QL rotations are applied to its
 * rows (Vᵀ = Zᵀ Qᵀ), so that again every rotation touches two contiguous rows; the result is
 * transposed once at the end.
 *
 * Speed in plain JavaScript comes from memory traffic, not flops: the update of one Householder
 * step is fused with the product of the next and walks rows in pairs, the reflectors are
 * multiplied four per pass, and the QL rotations are applied four per pass (see each function).
 * bench/eigen.ts compares it with ml-matrix.
 */

/** Eigenvalues (descending) and, if asked, eigenvectors of a symmetric matrix. */
export interface SymmetricEigen {
  values: Float64Array;
  /** Row-major n×n; column k (vectors[i·n + k]) is the unit eigenvector of values[k]. */
  vectors?: Float64Array;
}

export interface SymmetricEigenOptions {
  /** Also compute eigenvectors (about 5× the time of eigenvalues alone at n = 768). */
  vectors?: boolean;
}

/** QL sweeps allowed per eigenvalue; it converges in 1–3 in practice (cubic convergence). */
const MAX_SWEEPS = 60;

/**
 * Eigen-decomposition A = V diag(values) Vᵀ of a real symmetric n×n matrix (row-major).
 *
 * Only the lower triangle (a[i·n + j], j ≤ i) is read; `a` is not modified. Values are sorted
 * descending; eigenvector signs are arbitrary. Throws RangeError on a wrong length or a
 * non-finite entry.
 */
export function symmetricEigen(a: Float64Array, n: number, options: { vectors: true }): Required<SymmetricEigen>;
export function symmetricEigen(a: Float64Array, n: number, options?: SymmetricEigenOptions): SymmetricEigen;
export function symmetricEigen(a: Float64Array, n: number, options: SymmetricEigenOptions = {}): SymmetricEigen {
  if (!Number.isInteger(n) || n < 0 || a.length !== n * n) {
    throw new RangeError(`symmetricEigen: ${a.length} values do not form a ${n}×${n} matrix`);
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0, row = i * n; j <= i; j++) {
      if (!Number.isFinite(a[row + j])) throw new RangeError(`symmetricEigen: entry (${i}, ${j}) is not finite`);
    }
  }
  const w = Float64Array.from(a);
  const d = new Float64Array(n), e = new Float64Array(n), h = new Float64Array(n);
  tridiagonalize(w, n, d, e, h);
  if (!options.vectors) {
    implicitQL(d, e, n, null);
    return { values: d.sort().reverse() };
  }
  const vt = reflectorProduct(w, n, h);
  implicitQL(d, e, n, vt);
  const order = Array.from({ length: n }, (_, k) => k).sort((x, y) => d[y] - d[x]);
  const values = new Float64Array(n), vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const src = order[k] * n;
    values[k] = d[order[k]];
    for (let i = 0; i < n; i++) vectors[i * n + k] = vt[src + i];
  }
  return { values, vectors };
}

/**
 * The k largest eigenvalues (descending) and their eigenvectors as a row-major n×k matrix
 * (column j = eigenvector j). This is the full solve followed by a slice: a cheaper route
 * (inverse iteration on T plus back-transformation, LAPACK dstein) saves the O(n³) rotations but
 * needs reorthogonalisation within clusters of close eigenvalues, which covariance spectra have
 * in abundance; the full solve is robust and fast enough at the sizes used here.
 */
export function topEigenvectors(a: Float64Array, n: number, k: number): { values: Float64Array; vectors: Float64Array } {
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`topEigenvectors: k = ${k} not in [0, ${n}]`);
  const full = symmetricEigen(a, n, { vectors: true });
  const vectors = new Float64Array(n * k);
  for (let i = 0; i < n; i++) vectors.set(full.vectors.subarray(i * n, i * n + k), i * k);
  return { values: full.values.slice(0, k), vectors };
}

/**
 * Householder reduction of the lower triangle of `w` (overwritten) to tridiagonal form:
 * diagonal in d, sub-diagonal in e (e[i] couples i−1 and i; e[0] = 0). Row i of `w` keeps the
 * (scaled) reflector u in columns 0..i−1 and h[i] its H; h[i] = 0 means no reflection.
 *
 * The rank-2 update of step i and the product A·u of step i−1 share one pass over the block:
 * row i−1 is updated first, the next reflector is read off it, and then each remaining row is
 * updated and immediately used for the next product while it is still in cache. This halves
 * the memory traffic of the O(n³) part.
 */
function tridiagonalize(w: Float64Array, n: number, d: Float64Array, e: Float64Array, h: Float64Array): void {
  // q: the update vector of the current step; p: A·u of the next step, accumulated in the pass.
  const q = new Float64Array(n), p = new Float64Array(n);
  let prepared = false; // row i already reflected by the previous step, and p = A·u accumulated
  for (let i = n - 1; i >= 1; i--) {
    const row = i * n, l = i - 1;
    if (!prepared && reflect(w, n, i, d, e, h)) symmetricProduct(w, n, row, l, p);
    prepared = false;
    if (h[i] === 0) continue;
    // q = p/H − K u with p = A u, K = uᵀp/(2H²) (p is still undivided here).
    const hh = h[i];
    let up = 0;
    for (let j = 0; j <= l; j++) up += w[row + j] * p[j];
    const kk = up / (2 * hh * hh);
    for (let j = 0; j <= l; j++) q[j] = p[j] / hh - kk * w[row + j];
    p.fill(0, 0, i);
    // A ← A − u qᵀ − q uᵀ: row l first, so that the next reflector can be formed from it.
    const nrow = l * n, ul = w[row + l], ql = q[l];
    for (let k = 0; k <= l; k++) w[nrow + k] -= ul * q[k] + ql * w[row + k];
    const next = l >= 1 && reflect(w, n, l, d, e, h);
    prepared = l >= 1;
    if (next) {
      updateAndMultiply(w, n, row, nrow, l, q, p);
    } else {
      for (let j = 0; j < l; j++) {
        const rj = j * n, uj = w[row + j], qj = q[j];
        for (let k = 0; k <= j; k++) w[rj + k] -= uj * q[k] + qj * w[row + k];
      }
    }
  }
  if (n > 0) d[0] = w[0];
}

/**
 * The fused pass of tridiagonalize over rows 0..l−1: A ← A − u qᵀ − q uᵀ (u in row `row`),
 * and with each updated entry, p += A·v for the next reflector v (in row `nrow`). Rows go in
 * pairs so that q_k, u_k, v_k and p_k are loaded once for two rows.
 */
function updateAndMultiply(w: Float64Array, n: number, row: number, nrow: number, l: number, q: Float64Array, p: Float64Array): void {
  let j = 0;
  for (; j + 1 < l; j += 2) {
    const ra = j * n, rb = ra + n;
    const ua = w[row + j], qa = q[j], va = w[nrow + j];
    const ub = w[row + j + 1], qb = q[j + 1], vb = w[nrow + j + 1];
    let sa = 0, sb = 0;
    for (let k = 0; k < j; k++) {
      const uk = w[row + k], qk = q[k], vk = w[nrow + k];
      const xa = w[ra + k] - (ua * qk + qa * uk);
      const xb = w[rb + k] - (ub * qk + qb * uk);
      w[ra + k] = xa;
      w[rb + k] = xb;
      sa += xa * vk;
      sb += xb * vk;
      p[k] += xa * va + xb * vb;
    }
    // The 2×2 corner: (j, j), (j+1, j) and (j+1, j+1).
    const xaa = w[ra + j] - 2 * ua * qa;
    const xba = w[rb + j] - (ub * qa + qb * ua);
    const xbb = w[rb + j + 1] - 2 * ub * qb;
    w[ra + j] = xaa;
    w[rb + j] = xba;
    w[rb + j + 1] = xbb;
    p[j] += sa + xaa * va + xba * vb;
    p[j + 1] += sb + xba * va + xbb * vb;
  }
  if (j < l) {
    const rj = j * n, uj = w[row + j], qj = q[j], vj = w[nrow + j];
    let s = 0;
    for (let k = 0; k < j; k++) {
      const x = w[rj + k] - (uj * q[k] + qj * w[row + k]);
      w[rj + k] = x;
      s += x * w[nrow + k];
      p[k] += x * vj;
    }
    const x = w[rj + j] - 2 * uj * qj;
    w[rj + j] = x;
    p[j] += s + x * vj;
  }
}

/**
 * Scale row i (columns 0..i−1) and turn it into the reflector u with P·a = g·e_{i−1},
 * g = ∓‖a‖; sets d[i], e[i] and h[i] = H (0 and false when the row is already reduced).
 */
function reflect(w: Float64Array, n: number, i: number, d: Float64Array, e: Float64Array, h: Float64Array): boolean {
  const row = i * n, l = i - 1;
  d[i] = w[row + i];
  // Scaling the row to unit ℓ1 norm keeps ‖u‖² clear of overflow and underflow.
  let scale = 0;
  for (let k = 0; k <= l; k++) scale += Math.abs(w[row + k]);
  if (l === 0 || scale === 0) {
    e[i] = w[row + l];
    h[i] = 0;
    return false;
  }
  let sigma = 0;
  for (let k = 0; k <= l; k++) {
    const v = w[row + k] / scale;
    w[row + k] = v;
    sigma += v * v;
  }
  const f = w[row + l];
  // Sign opposite to f avoids cancellation in u_{i−1} = f − g.
  const g = f >= 0 ? -Math.sqrt(sigma) : Math.sqrt(sigma);
  e[i] = scale * g;
  w[row + l] = f - g;
  h[i] = sigma - f * g;
  return true;
}

/**
 * p += A·u (undivided) over the symmetric block 0..l stored in the lower triangle, u in row
 * `row`: each stored row is read once, entry (j, k), k < j, feeding p_j (row dot) and p_k
 * (its mirror).
 */
function symmetricProduct(w: Float64Array, n: number, row: number, l: number, p: Float64Array): void {
  for (let j = 0; j <= l; j++) {
    const rj = j * n, uj = w[row + j];
    let s = 0;
    for (let k = 0; k < j; k++) {
      const ajk = w[rj + k];
      s += ajk * w[row + k];
      p[k] += ajk * uj;
    }
    p[j] += s + w[rj + j] * uj;
  }
}

/** Reflectors applied per pass in reflectorProduct (the inner loops are unrolled for 4). */
const REFLECTOR_BLOCK = 4;

/**
 * Qᵀ = P₁P₂⋯P_{n−1} from the reflectors left in `w` by tridiagonalize, as a new row-major
 * matrix. Multiplying on the right in ascending order keeps the product the identity outside
 * its leading block, so only rows and columns below i + 3 take part at step i.
 *
 * Four reflectors go through each row per pass: for a row m, sⱼ = (m·uⱼ − Σ_{t<j} s_t·u_t·uⱼ)/Hⱼ
 * are the coefficients of applying them one after the other, so all four dot products come
 * from one read of m and the update m −= Σ sⱼuⱼ from one more (a compact-WY product in
 * miniature), a quarter of the memory traffic of one reflector at a time.
 */
function reflectorProduct(w: Float64Array, n: number, h: Float64Array): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  // The block's reflectors, zero-padded to a common width; no reflection (h = 0) is u = 0.
  const u = new Float64Array(REFLECTOR_BLOCK * n);
  const u0 = u.subarray(0, n), u1 = u.subarray(n, 2 * n), u2 = u.subarray(2 * n, 3 * n), u3 = u.subarray(3 * n);
  const inv = new Float64Array(REFLECTOR_BLOCK);
  for (let i = 1; i < n; i += REFLECTOR_BLOCK) {
    const width = Math.min(n, i + REFLECTOR_BLOCK - 1);
    u.fill(0);
    for (let j = 0; j < REFLECTOR_BLOCK; j++) {
      const t = i + j;
      inv[j] = t < n && h[t] !== 0 ? 1 / h[t] : 0;
      if (inv[j] !== 0) u.set(w.subarray(t * n, t * n + t), j * n);
    }
    let g01 = 0, g02 = 0, g03 = 0, g12 = 0, g13 = 0, g23 = 0;
    for (let k = 0; k < width; k++) {
      g01 += u0[k] * u1[k]; g02 += u0[k] * u2[k]; g03 += u0[k] * u3[k];
      g12 += u1[k] * u2[k]; g13 += u1[k] * u3[k]; g23 += u2[k] * u3[k];
    }
    for (let r = 0; r < width; r++) {
      const rr = r * n;
      let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
      for (let k = 0; k < width; k++) {
        const x = m[rr + k];
        d0 += x * u0[k]; d1 += x * u1[k]; d2 += x * u2[k]; d3 += x * u3[k];
      }
      const s0 = d0 * inv[0];
      const s1 = (d1 - s0 * g01) * inv[1];
      const s2 = (d2 - s0 * g02 - s1 * g12) * inv[2];
      const s3 = (d3 - s0 * g03 - s1 * g13 - s2 * g23) * inv[3];
      for (let k = 0; k < width; k++) m[rr + k] -= s0 * u0[k] + s1 * u1[k] + s2 * u2[k] + s3 * u3[k];
    }
  }
  return m;
}

/**
 * Implicit QL with Wilkinson shifts on the tridiagonal (d, e) in place: d becomes the
 * eigenvalues (unsorted). If `vt` is given, each plane rotation on (i, i+1) is applied to rows
 * i and i+1 of vt, turning Qᵀ into Vᵀ (rows = eigenvectors).
 */
function implicitQL(d: Float64Array, e: Float64Array, n: number, vt: Float64Array | null): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  if (n > 0) e[n - 1] = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]) + Math.abs(e[i]));
  const tol = Number.EPSILON * norm;
  // The sweep's rotations, applied to vt together once it is done (see applyRotations).
  const cs = new Float64Array(n), sn = new Float64Array(n);
  for (let l = 0; l < n; l++) {
    for (let sweep = 0; ; sweep++) {
      let m = l;
      while (m < n - 1 && Math.abs(e[m]) > tol) m++;
      if (m === l) break;
      if (sweep === MAX_SWEEPS) throw new Error(`symmetricEigen: QL did not converge for eigenvalue ${l}`);
      // Wilkinson shift: the eigenvalue of the leading 2×2 block closer to d[l].
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1, c = 1, p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i], b = c * e[i];
        r = hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // Underflow: the matrix splits here; undo the partial shift and sweep again.
          d[i + 1] -= p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        cs[i] = c;
        sn[i] = s;
      }
      if (vt !== null) applyRotations(vt, n, cs, sn, i + 1, m - 1);
      if (i >= l) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** Columns per chunk in applyRotations: a chunk of five rows stays well inside L1. */
const ROTATION_CHUNK = 256;

/**
 * For i = hi down to lo: rows i and i+1 of vt ← (cᵢ·rᵢ − sᵢ·rᵢ₊₁, sᵢ·rᵢ + cᵢ·rᵢ₊₁).
 *
 * The QL rotations are the bulk of the work with vectors (≈ 3n³ flops), so they are applied
 * four at a time: rotation i leaves row i+1 final and passes row i on to rotation i−1, so a
 * group of four reads and writes five rows once instead of eight twice, the row in flight
 * staying in a register. Column chunks keep the rows of a group in L1.
 */
function applyRotations(vt: Float64Array, n: number, cs: Float64Array, sn: Float64Array, lo: number, hi: number): void {
  for (let k0 = 0; k0 < n; k0 += ROTATION_CHUNK) {
    const k1 = Math.min(n, k0 + ROTATION_CHUNK);
    let i = hi;
    for (; i - 3 >= lo; i -= 4) {
      const c1 = cs[i], s1 = sn[i], c2 = cs[i - 1], s2 = sn[i - 1];
      const c3 = cs[i - 2], s3 = sn[i - 2], c4 = cs[i - 3], s4 = sn[i - 3];
      const r1 = i * n, r0 = r1 + n, r2 = r1 - n, r3 = r2 - n, r4 = r3 - n;
      for (let k = k0; k < k1; k++) {
        let y = vt[r0 + k], x = vt[r1 + k];
        vt[r0 + k] = s1 * x + c1 * y;
        y = c1 * x - s1 * y;
        x = vt[r2 + k];
        vt[r1 + k] = s2 * x + c2 * y;
        y = c2 * x - s2 * y;
        x = vt[r3 + k];
        vt[r2 + k] = s3 * x + c3 * y;
        y = c3 * x - s3 * y;
        x = vt[r4 + k];
        vt[r3 + k] = s4 * x + c4 * y;
        vt[r4 + k] = c4 * x - s4 * y;
      }
    }
    for (; i >= lo; i--) {
      const c = cs[i], s = sn[i], a = i * n, b = a + n;
      for (let k = k0; k < k1; k++) {
        const x = vt[a + k], y = vt[b + k];
        vt[b + k] = s * x + c * y;
        vt[a + k] = c * x - s * y;
      }
    }
  }
}

/** √(x² + y²) without overflow; Math.hypot is several times slower in V8 (variadic). */
function hypot(x: number, y: number): number {
  const ax = Math.abs(x), ay = Math.abs(y);
  if (ax > ay) {
    const t = ay / ax;
    return ax * Math.sqrt(1 + t * t);
  }
  if (ay === 0) return 0;
  const t = ax / ay;
  return ay * Math.sqrt(1 + t * t);
}
