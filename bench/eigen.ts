/**
 * Symmetric eigen-solver benchmark: src/metrics/eigen.ts against ml-matrix's
 * EigenvalueDecomposition (which always computes eigenvectors) on seeded random SPD matrices.
 *
 *     node --import tsx bench/eigen.ts
 *
 * Prints a table, then one JSON line per measurement. Each time is the best of `REPEATS` runs
 * after one untimed warm-up at a small size (so that the JIT has compiled the hot loops).
 */
import os from 'node:os';
import { EigenvalueDecomposition, Matrix as MlMatrix } from 'ml-matrix';
import { Rng } from '../src/backend/rng.js';
import { symmetricEigen } from '../src/metrics/eigen.js';

const REPEATS = 2;

interface Case {
  n: number;
  solver: 'repgeom' | 'ml-matrix';
  vectors: boolean;
}

const CASES: Case[] = [
  { n: 768, solver: 'repgeom', vectors: false },
  { n: 768, solver: 'repgeom', vectors: true },
  { n: 768, solver: 'ml-matrix', vectors: true },
  { n: 2048, solver: 'repgeom', vectors: false },
];

/** Reproducible Gaussian numbers from the project's seeded generator. */
function gaussian(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.normal();
}

/**
 * A symmetric Gaussian (Wigner) matrix shifted by (2√n + 1)·I: its spectrum fills
 * [1, 4√n + 1] (semicircle law), so it is SPD, and it costs O(n²) to build where a Wishart
 * matrix XᵀX would cost O(n³) — the solver's work does not depend on the spectrum's shape.
 */
function randomSpd(n: number, seed: number): Float64Array {
  const g = gaussian(seed), a = new Float64Array(n * n), shift = 2 * Math.sqrt(n) + 1;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = g();
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
    a[i * n + i] = g() + shift;
  }
  return a;
}

function solve(c: Case, a: Float64Array): Float64Array {
  if (c.solver === 'repgeom') return symmetricEigen(a, c.n, { vectors: c.vectors }).values;
  const rows = Array.from({ length: c.n }, (_, i) => Array.from(a.subarray(i * c.n, (i + 1) * c.n)));
  const evd = new EigenvalueDecomposition(new MlMatrix(rows), { assumeSymmetric: true });
  return Float64Array.from(evd.realEigenvalues).sort().reverse();
}

function main(): void {
  const warm = randomSpd(128, 1);
  for (const c of CASES) solve({ ...c, n: 128 }, warm);

  const results: Array<Case & { ms: number; maxAbsDiff?: number }> = [];
  const reference = new Map<number, Float64Array>();
  for (const c of CASES) {
    const a = randomSpd(c.n, 42);
    let best = Infinity, values: Float64Array = new Float64Array(0);
    for (let r = 0; r < REPEATS; r++) {
      const t0 = performance.now();
      values = solve(c, a);
      best = Math.min(best, performance.now() - t0);
    }
    // Eigenvalue agreement with the first solver run at this size.
    const first = reference.get(c.n);
    let maxAbsDiff: number | undefined;
    if (first) {
      maxAbsDiff = 0;
      for (let k = 0; k < c.n; k++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(values[k] - first[k]));
    } else {
      reference.set(c.n, values);
    }
    results.push({ ...c, ms: best, maxAbsDiff });
  }

  console.log(`eigen-solver benchmark — ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, best of ${REPEATS}`);
  console.log('');
  console.log('    n  solver     computes           time (s)  max |Δλ| vs first row of this n');
  for (const r of results) {
    const what = r.vectors ? 'values + vectors' : 'values';
    const diff = r.maxAbsDiff === undefined ? '' : r.maxAbsDiff.toExponential(1);
    console.log(`${String(r.n).padStart(5)}  ${r.solver.padEnd(9)}  ${what.padEnd(17)}  ${(r.ms / 1000).toFixed(2).padStart(8)}  ${diff}`);
  }
  console.log('');
  for (const r of results) console.log(JSON.stringify({ bench: 'eigen', ...r, ms: Math.round(r.ms) }));
}

main();
