/** Row-major dense matrices as the whole library passes them: rows = points, cols = dimensions. */
export type FloatArray = Float32Array | Float64Array;

export interface Matrix<T extends FloatArray = FloatArray> {
  data: T;
  rows: number;
  cols: number;
}

export function matrix<T extends FloatArray>(data: T, rows: number, cols: number): Matrix<T> {
  if (data.length !== rows * cols) {
    throw new RangeError(`matrix: ${data.length} values do not fill ${rows} x ${cols}`);
  }
  return { data, rows, cols };
}

/** Rows [start, end) as a view (no copy). */
export function sliceRows<T extends FloatArray>(m: Matrix<T>, start: number, end: number): Matrix<T> {
  return { data: m.data.subarray(start * m.cols, end * m.cols) as T, rows: end - start, cols: m.cols };
}

/** Copy the given rows (in the given order) into a new matrix of the same element type. */
export function takeRows<T extends FloatArray>(m: Matrix<T>, indices: ArrayLike<number>): Matrix<T> {
  const d = m.cols;
  const out = new (m.data.constructor as { new (n: number): T })(indices.length * d);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    out.set(m.data.subarray(r * d, (r + 1) * d), i * d);
  }
  return { data: out, rows: indices.length, cols: d };
}
