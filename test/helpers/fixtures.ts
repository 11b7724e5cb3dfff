/** The geometry fixtures of ../shared (read in place, never copied) and small test utilities. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readNpy } from '../../src/io/npy.js';
import type { Matrix } from '../../src/backend/matrix.js';
import { Rng } from '../../src/backend/rng.js';

export const SHARED = resolve(import.meta.dirname, '..', '..', '..', 'shared');
export const GEOMETRY = resolve(SHARED, 'fixtures', 'geometry');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Expected = Record<string, any>;
export const EXPECTED: Record<string, Expected> = JSON.parse(readFileSync(resolve(GEOMETRY, 'expected.json'), 'utf8'));

/** Fixture cases that have their own point cloud (the `__C0_identity` entry reuses smallbatch). */
export const CASES = Object.keys(EXPECTED).filter((c) => !c.includes('__'));

export function fixturePath(name: string): string {
  return resolve(GEOMETRY, `${name.split('__')[0]}.npy`);
}

export async function loadFixture(name: string): Promise<Matrix<Float64Array>> {
  const { data, shape } = await readNpy(fixturePath(name));
  return { data: data as Float64Array, rows: shape[0], cols: shape[1] };
}

/** Seeded standard-normal entries (Rng.normal), optionally scaled per column. */
export function gaussianMatrix(rows: number, cols: number, seed: number, scales?: number[]): Matrix<Float64Array> {
  const rng = new Rng(seed), data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) {
    data[i] = rng.normal() * (scales ? scales[i % cols] : 1);
  }
  return { data, rows, cols };
}

/** Orthonormal rows (Gram–Schmidt of a Gaussian matrix), rows × cols with rows ≤ cols; square: a random rotation. */
export function orthonormalRows(rows: number, cols: number, seed: number): Float64Array {
  const q = gaussianMatrix(rows, cols, seed).data;
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < i; k++) {
      let dot = 0;
      for (let j = 0; j < cols; j++) dot += q[i * cols + j] * q[k * cols + j];
      for (let j = 0; j < cols; j++) q[i * cols + j] -= dot * q[k * cols + j];
    }
    let norm = 0;
    for (let j = 0; j < cols; j++) norm += q[i * cols + j] ** 2;
    norm = Math.sqrt(norm);
    for (let j = 0; j < cols; j++) q[i * cols + j] /= norm;
  }
  return q;
}

/** n points uniform on the unit square, mapped into R¹⁰ by orthonormal rows and shifted: a 2-D manifold. */
export function uniformSquareIn10D(n: number, seed: number): Matrix<Float64Array> {
  const rng = new Rng(seed), basis = orthonormalRows(2, 10, 4), data = new Float64Array(n * 10);
  for (let i = 0; i < n; i++) {
    const u = rng.nextFloat(), v = rng.nextFloat();
    for (let t = 0; t < 10; t++) data[i * 10 + t] = u * basis[t] + v * basis[10 + t] + 0.5;
  }
  return { data, rows: n, cols: 10 };
}

/** x·R (rows rotated), then scaled by `scale` and shifted by `shift` in every coordinate. */
export function rotateScaleShift(x: Matrix, r: Float64Array, scale = 1, shift = 0): Matrix<Float64Array> {
  const { rows, cols: d } = x, out = new Float64Array(rows * d);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < d; k++) {
      const v = x.data[i * d + k];
      for (let j = 0; j < d; j++) out[i * d + j] += v * r[k * d + j];
    }
    for (let j = 0; j < d; j++) out[i * d + j] = out[i * d + j] * scale + shift;
  }
  return { data: out, rows, cols: d };
}

export function relativeError(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);
}

/** Assert |actual − expected| ≤ tol·|expected|. */
export function assertRelClose(actual: number, expected: number, tol: number, what: string): void {
  if (!(Math.abs(actual - expected) <= tol * Math.abs(expected))) {
    throw new Error(`${what}: ${actual} vs ${expected} (rel tol ${tol})`);
  }
}
