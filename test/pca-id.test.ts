import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { matrix, type Matrix } from '../src/backend/matrix.js';
import { MetricUndefined, UserError } from '../src/errors.js';
import { accumulate } from '../src/metrics/covariance.js';
import {
  lpcaBrokenStick, lpcaFan, lpcaFO, lpcaKaiser, lpcaMaxgap, lpcaParticipationRatio, lpcaRatio, pcaId,
} from '../src/metrics/pca-id.js';
import { covarianceSpectrum, explainedVarianceRatio } from '../src/metrics/spectrum.js';

const FIXTURES = path.resolve(import.meta.dirname, '..', '..', 'shared', 'fixtures', 'geometry');

/** Just enough of the .npy format for the fixtures: v1 header, little-endian float64, C order. */
function readFixture(name: string): Matrix<Float64Array> {
  const bytes = readFileSync(path.join(FIXTURES, `${name}.npy`));
  assert.equal(bytes.toString('latin1', 1, 6), 'NUMPY');
  assert.equal(bytes[6], 1, 'npy version 1');
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.toString('latin1', 10, 10 + headerLength);
  assert.match(header, /'descr': '<f8'/);
  assert.match(header, /'fortran_order': False/);
  const shape = /'shape': \((\d+), (\d+)\)/.exec(header);
  assert.ok(shape, header);
  const start = 10 + headerLength;
  // Copy: the data offset need not be 8-byte aligned within Node's pooled buffer.
  const data = new Float64Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length));
  return matrix(data, Number(shape[1]), Number(shape[2]));
}

type Expected = Record<string, { pca_id: Record<string, { value: number }> & { n_eigs: number } }>;
const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Expected;

function spectrumOf(name: string): { values: Float64Array; x: Matrix<Float64Array> } {
  const x = readFixture(name);
  return { values: covarianceSpectrum(accumulate(x).covariance(1), x.cols, x.rows), x };
}

for (const [key, entry] of Object.entries(expected)) {
  // '…__C0_identity' only changes IsoScore⋆'s C0: same points, same PCA-ID.
  const name = key.split('__')[0];
  test(`lPCA versions match scikit-dimension 0.3.4 on ${key}`, () => {
    const { values } = spectrumOf(name);
    const want = entry.pca_id;
    assert.equal(values.length, want.n_eigs);
    const got = pcaId(values);
    assert.equal(got.fo, want.lPCA_FO.value, 'FO');
    assert.equal(got.fan, want.lPCA_Fan.value, 'Fan');
    assert.equal(got.maxgap, want.lPCA_maxgap.value, 'maxgap');
    assert.equal(got.ratio, want.lPCA_ratio.value, 'ratio (α = 0.05)');
    assert.equal(got.ratio90, want['lPCA_ratio_alphaRatio0.9'].value, 'ratio (α = 0.9)');
    assert.equal(got.kaiser, want.lPCA_Kaiser.value, 'Kaiser');
    assert.equal(got.brokenStick, want.lPCA_broken_stick.value, 'broken stick');
    const pr = want.lPCA_participation_ratio.value;
    assert.ok(Math.abs(got.participationRatio - pr) <= 1e-10 * pr, `participation ratio ${got.participationRatio} vs ${pr}`);
    assert.equal(lpcaRatio(values, 0.9), got.ratio90);
    assert.equal(pcaId(values, {}, { participationRatio: 1.25 }).participationRatio, 1.25, 'a given PR is reported as is');
    assert.ok(got.ratio99 >= got.ratio90 && got.ratio90 >= got.ratio);
    assert.equal(got.alphaFO, 0.05);
    assert.equal(got.alphaRatio, 0.05);
  });
}

test('min(N, d) eigenvalues are kept: 32 of 64 for smallbatch_n32_d64', () => {
  const { values } = spectrumOf('smallbatch_n32_d64');
  assert.equal(values.length, 32);
  // 32 centred points span 31 dimensions: the 32nd eigenvalue is rounding, reported as 0.
  assert.ok(values[30] > 0);
  assert.equal(values[31], 0);
});

test('rounding-level eigenvalues are exactly 0 and the rest untouched', () => {
  const { values } = spectrumOf('subspace5_n2000_d50');
  assert.equal(values.length, 50);
  assert.ok(values[4] > 0.5);
  assert.ok(values.subarray(5).every((v) => v === 0));
});

test('explainedVarianceRatio sums to 1', () => {
  const { values } = spectrumOf('aniso_outliers_n2000_d50');
  const ratio = explainedVarianceRatio(values);
  assert.ok(Math.abs(ratio.reduce((s, v) => s + v, 0) - 1) < 1e-12);
  assert.ok(ratio[0] > ratio[1]);
  assert.deepEqual([...explainedVarianceRatio(new Float64Array(3))], [0, 0, 0]);
});

test('each rule on a hand-made spectrum', () => {
  const values = Float64Array.of(8, 4, 2, 1, 0.5, 0.25);
  assert.equal(lpcaFO(values), 5, 'λ > 0.4');
  assert.equal(lpcaFO(values, 0.2), 3, 'λ > 1.6');
  // Cumulative shares 0.507, 0.762, 0.889, 0.952, 0.984, 1.
  assert.equal(lpcaRatio(values, 0.9), 4);
  assert.equal(lpcaRatio(values, 0.5), 1);
  assert.equal(lpcaParticipationRatio(values), 15.75 ** 2 / 85.3125);
  assert.equal(lpcaKaiser(values), 2);
  assert.equal(lpcaMaxgap(Float64Array.of(5, 4, 1, 0.9)), 2);
  assert.equal(lpcaMaxgap(Float64Array.of(5, 4, 0, 0)), 2, 'λ/0 = ∞ wins, 0/0 is skipped');
  // Broken stick for m = 6: 0.408, 0.242, 0.158, 0.103, 0.061, 0.028 against 0.508, 0.254, 0.127…
  assert.equal(lpcaBrokenStick(values), 3);
  assert.equal(lpcaBrokenStick(Float64Array.of(1, 1)), 1);
  assert.equal(lpcaBrokenStick(Float64Array.of(4, 1)), 2);
  assert.equal(lpcaBrokenStick(Float64Array.of(3, 1)), 0, 'equal to the stick (0.75, 0.25): never below it');
  // Fan: r = 3 (share 0.952 > 0.95), σ = 0.583; μ = 7.42, 3.42, 1.42, 0.42, −0.08, −0.33:
  // gap 0.42/−0.08 is negative; cumulative μ share passes 0.8 at index 1.
  assert.equal(lpcaFan(values), 2);
  assert.equal(lpcaFan(values, 1.5), 1, 'a gap of 7.42/3.42 > 1.5 at index 0');
  assert.ok(Number.isNaN(lpcaFan(Float64Array.of(1, 1, 1, 1))), 'all equal: scikit-dimension raises');
});

test('invalid spectra are user errors; one eigenvalue or zero variance is undefined (null in measure)', () => {
  assert.throws(() => pcaId(Float64Array.of(1)), MetricUndefined);
  assert.throws(() => pcaId(Float64Array.of(0, 0)), MetricUndefined);
  assert.throws(() => pcaId(Float64Array.of(1, 2)), (e: unknown) => e instanceof UserError && !(e instanceof MetricUndefined));
  assert.throws(() => pcaId(Float64Array.of(1, -1e-3)), UserError);
  assert.throws(() => pcaId(Float64Array.of(NaN, 1)), UserError);
  assert.throws(() => covarianceSpectrum(new Float64Array(4), 2, 1), UserError);
  assert.throws(() => covarianceSpectrum(new Float64Array(3), 2, 10), UserError);
});
