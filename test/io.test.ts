import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Field, FixedSizeList, Float32, Table, makeData, makeVector, tableFromArrays, tableToIPC } from 'apache-arrow';
import { UserError } from '../src/errors.js';
import { openHiddenStates, type HiddenStates, type ScanOptions } from '../src/io/hidden-states.js';
import { encodeNpy, readNpy, writeNpy } from '../src/io/npy.js';
import { readNpz, writeNpz } from '../src/io/npz.js';
import { openSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { createArrowWriter } from '../src/io/arrow.js';
import { bfloat16ToFloat32, halfToFloat32 } from '../src/io/half.js';
import { naturalCompare } from '../src/io/natural-compare.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-io-'));
const file = (name: string): string => path.join(dir, name);
const FIXTURE = path.resolve(import.meta.dirname, '..', '..', 'shared', 'fixtures', 'geometry', 'iso_gauss_n2000_d50.npy');

/** Values 0.5, 1.5, ... so every element is distinct and exact in float32. */
function ramp(n: number, start = 0): number[] {
  return Array.from({ length: n }, (_, i) => start + i + 0.5);
}

interface Collected {
  /** [layer, firstRow, rows] of every block, in the order they came. */
  blocks: [number, number, number][];
  /** All values of each layer, concatenated in block order. */
  values: Map<number, number[]>;
  arrayTypes: Set<string>;
}

async function collect(hs: HiddenStates, options: ScanOptions): Promise<Collected> {
  const out: Collected = { blocks: [], values: new Map(), arrayTypes: new Set() };
  for await (const { layer, firstRow, block } of hs.scan(options)) {
    assert.equal(block.data.length, block.rows * block.cols);
    out.blocks.push([layer, firstRow, block.rows]);
    out.values.set(layer, [...(out.values.get(layer) ?? []), ...block.data]);
    out.arrayTypes.add(block.data.constructor.name);
  }
  return out;
}

/** Assert that `promise` rejects with a UserError whose one-line message matches every pattern. */
async function rejectsUser(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `message is not one line: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

/** A .npy v1 file with the given header dict text and raw data. */
function npyBytes(dict: string, data: Uint8Array = new Uint8Array(0), version = 1): Uint8Array {
  const start = version === 1 ? 10 : 12;
  const text = new TextEncoder().encode(dict + '\n');
  const out = new Uint8Array(start + text.byteLength + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, text.byteLength, true);
  else view.setUint32(8, text.byteLength, true);
  out.set(text, start);
  out.set(data, start + text.byteLength);
  return out;
}

/** A .safetensors image from a header (object or raw text) and data; `length` overrides the header length field. */
function safetensorsBytes(header: unknown, data: Uint8Array, length?: number): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? text.byteLength), true);
  out.set(text, 8);
  out.set(data, 8 + text.byteLength);
  return out;
}

const bytesOf = (a: Float32Array | Float64Array | Uint16Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// ---------------------------------------------------------------- .npy

test('npy: float32 2-D round trip, blockRows not dividing rows', async () => {
  const values = ramp(7 * 3);
  writeNpy(file('a.npy'), Float32Array.from(values), [7, 3]);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
  const hs = await openHiddenStates(file('a.npy'));
  assert.equal(hs.format, 'npy');
  assert.deepEqual(hs.layers, [{ layer: 0, name: 'array', rows: 7, cols: 3 }]);
  assert.deepEqual(hs.metadata, {});
  const got = await collect(hs, { blockRows: 3 });
  assert.deepEqual(got.blocks, [[0, 0, 3], [0, 3, 3], [0, 6, 1]]);
  assert.deepEqual(got.values.get(0), values);
  assert.deepEqual([...got.arrayTypes], ['Float32Array']);
  // a second scan is a new pass over the same data
  assert.deepEqual((await collect(hs, { blockRows: 5 })).values.get(0), values);
  await hs.close();
});

test('npy: float64 3-D is one layer per leading index; layer selection reads only those', async () => {
  const values = ramp(3 * 5 * 2);
  writeNpy(file('b.npy'), Float64Array.from(values), [3, 5, 2]);
  const hs = await openHiddenStates(file('b.npy'));
  assert.deepEqual(hs.layers.map((l) => [l.layer, l.name, l.rows, l.cols]), [
    [0, 'array[0]', 5, 2], [1, 'array[1]', 5, 2], [2, 'array[2]', 5, 2],
  ]);
  const got = await collect(hs, { blockRows: 2, layers: [2, 0] });
  assert.deepEqual(got.blocks, [[0, 0, 2], [0, 2, 2], [0, 4, 1], [2, 0, 2], [2, 2, 2], [2, 4, 1]]);
  assert.deepEqual(got.values.get(0), values.slice(0, 10));
  assert.deepEqual(got.values.get(2), values.slice(20, 30));
  assert.deepEqual([...got.arrayTypes], ['Float64Array']);
  await rejectsUser(collect(hs, { blockRows: 2, layers: [3] }), /no layer 3 \(layers: 0, 1, 2\)/);
  await hs.close();
});

test('npy: writer output is byte-identical to numpy.save; numpy-written file reads back', async () => {
  // numpy 2.4.6: np.save(buf, np.arange(12, dtype=np.float32).reshape(2, 3, 2)), base64 of the bytes
  const fromNumpy = Buffer.from(
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEAAAMBAAADgQAAAAEEAABBBAAAgQQAAMEE=',
    'base64',
  );
  const ours = Buffer.concat(encodeNpy(Float32Array.from({ length: 12 }, (_, i) => i), [2, 3, 2]));
  assert.deepEqual(ours, fromNumpy);
  fs.writeFileSync(file('np.npy'), fromNumpy);
  const arr = await readNpy(file('np.npy'));
  assert.deepEqual(arr.shape, [2, 3, 2]);
  assert.deepEqual([...arr.data], Array.from({ length: 12 }, (_, i) => i));
});

test('npy: the real fixture iso_gauss_n2000_d50.npy', async () => {
  const hs = await openHiddenStates(FIXTURE);
  assert.deepEqual(hs.layers, [{ layer: 0, name: 'array', rows: 2000, cols: 50 }]);
  const got = await collect(hs, { blockRows: 128 });
  assert.equal(got.blocks.length, 16);
  assert.deepEqual(got.blocks.at(-1), [0, 1920, 80]);
  assert.deepEqual([...got.arrayTypes], ['Float64Array']);
  const v = got.values.get(0)!;
  // Expected values from numpy 2.4.6: a = np.load(path); a[0,0], a[0,49], a[1234,17], a[1999,49], a[:,3].sum()
  assert.equal(v[0 * 50 + 0], 0.1257302210933933);
  assert.equal(v[0 * 50 + 49], 1.31510376473437);
  assert.equal(v[1234 * 50 + 17], -0.36048473734367764);
  assert.equal(v[1999 * 50 + 49], -0.49541294309578066);
  let col3 = 0;
  for (let r = 0; r < 2000; r++) col3 += v[r * 50 + 3];
  assert.ok(Math.abs(col3 - -82.95744454974042) < 1e-9, `column 3 sums to ${col3}`);
  await hs.close();
});

test('npy: bad inputs are UserErrors naming the file and the fix', async () => {
  const full = Buffer.concat(encodeNpy(new Float32Array(20 * 20), [20, 20]));
  fs.writeFileSync(file('trunc.npy'), full.subarray(0, full.byteLength - 10));
  await rejectsUser(openHiddenStates(file('trunc.npy')), /trunc\.npy: truncated \.npy data/, /needs 1600 bytes/, /the file has 1590/);

  const cases: [string, string, RegExp][] = [
    ['int.npy', "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", /dtype '<i8' is not supported/],
    ['half.npy', "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }", /dtype '<f2' is not supported/],
    ['big.npy', "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", /big-endian/],
    ['fortran.npy', "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", /fortran_order is true/],
    ['shape.npy', "{'descr': '<f4', 'fortran_order': False, 'shape': 'x', }", /shape "x" is not a tuple/],
    ['syntax.npy', "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2) ", /\.npy header: expected ',' or '}'/],
    ['structured.npy', "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", /structured arrays are not/],
  ];
  for (const [name, dict, pattern] of cases) {
    fs.writeFileSync(file(name), npyBytes(dict, new Uint8Array(32)));
    await rejectsUser(openHiddenStates(file(name)), new RegExp(name.replace('.', '\\.')), pattern);
  }
  fs.writeFileSync(file('magic.npy'), Buffer.from('PK\x03\x04 this is not numpy'));
  await rejectsUser(openHiddenStates(file('magic.npy')), /not a \.npy file/);
  fs.writeFileSync(file('v9.npy'), npyBytes("{'descr': '<f4'}", new Uint8Array(0), 9));
  await rejectsUser(openHiddenStates(file('v9.npy')), /version 9\.0 is not supported/);
  writeNpy(file('rank4.npy'), new Float32Array(16), [2, 2, 2, 2]);
  await rejectsUser(openHiddenStates(file('rank4.npy')), /shape \(2, 2, 2, 2\); hidden states need \(N, d\)/);
  writeNpy(file('empty.npy'), new Float32Array(0), [0, 4]);
  await rejectsUser(openHiddenStates(file('empty.npy')), /layer 0 \(array\) is empty/);
});

test('npy: version 2 header and Python 2 long integers parse', async () => {
  const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
  fs.writeFileSync(file('v2.npy'), npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 2L), }", bytesOf(data), 2));
  const arr = await readNpy(file('v2.npy'));
  assert.deepEqual(arr.shape, [3, 2]);
  assert.deepEqual([...arr.data], [1, 2, 3, 4, 5, 6]);
});

// ---------------------------------------------------------------- .npz

test('npz: numpy.savez and numpy.savez_compressed archives read in stored order', async () => {
  // numpy 2.4.6: a = np.array([[1.5,-2,3],[4,5,6.25]], np.float32); b = np.array([[0.1,0.2,0.3]]);
  // np.savez(buf, a, zeta=b) and np.savez_compressed(buf, a, zeta=b); base64 of the bytes. numpy stores 'zeta' first.
  const archives = {
    savez: 'UEsDBC0AAAAAAAAAIQDbT7PR//////////8IABQAemV0YS5ucHkBABAAmAAAAAAAAACYAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmOCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgxLCAzKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKmpmZmZmZuT+amZmZmZnJPzMzMzMzM9M/UEsDBC0AAAAAAAAAIQBb/sUa//////////8JABQAYXJyXzAubnB5AQAQAJgAAAAAAAAAmAAAAAAAAACTTlVNUFkBAHYAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgCgAAwD8AAADAAABAQAAAgEAAAKBAAADIQFBLAQItAy0AAAAAAAAAIQDbT7PRmAAAAJgAAAAIAAAAAAAAAAAAAACAAQAAAAB6ZXRhLm5weVBLAQItAy0AAAAAAAAAIQBb/sUamAAAAJgAAAAJAAAAAAAAAAAAAACAAdIAAABhcnJfMC5ucHlQSwUGAAAAAAIAAgBtAAAApQEAAAAA',
    compressed: 'UEsDBC0AAAAIAAAAIQDbT7PR//////////8IABQAemV0YS5ucHkBABAAmAAAAAAAAABUAAAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6loG6TZqGuo6Cell9UUpSYF59flJIKEndLzClOBYoXZyQWpAL5GoY6CsaaOgq1CmQDrlkzQWCnPYQ+aW8MBpftAVBLAwQtAAAACAAAACEAW/7FGv//////////CQAUAGFycl8wLm5weQEAEACYAAAAAAAAAFoAAAAAAAAAm+wX6hsQychQxlCtnpJanFykbqWgbpNmoq6joJ6WX1RSlJgXn1+UkgoSd0vMKU4FihdnJBakAvkaRjoKxpo6CrUKZAMuBoYD9gxAgoHBwYGBoQGIFwDxCQcAUEsBAi0DLQAAAAgAAAAhANtPs9FUAAAAmAAAAAgAAAAAAAAAAAAAAIABAAAAAHpldGEubnB5UEsBAi0DLQAAAAgAAAAhAFv+xRpaAAAAmAAAAAkAAAAAAAAAAAAAAIABjgAAAGFycl8wLm5weVBLBQYAAAAAAgACAG0AAAAjAQAAAAA=',
  };
  for (const [kind, b64] of Object.entries(archives)) {
    fs.writeFileSync(file(`${kind}.npz`), Buffer.from(b64, 'base64'));
    const hs = await openHiddenStates(file(`${kind}.npz`));
    assert.deepEqual(hs.layers, [
      { layer: 0, name: 'zeta', rows: 1, cols: 3 },
      { layer: 1, name: 'arr_0', rows: 2, cols: 3 },
    ]);
    const got = await collect(hs, { blockRows: 1, layers: [1] });
    assert.deepEqual(got.blocks, [[1, 0, 1], [1, 1, 1]]);
    assert.deepEqual(got.values.get(1), [1.5, -2, 3, 4, 5, 6.25]);
    assert.deepEqual([...got.arrayTypes], ['Float32Array']);
    const zeta = await collect(hs, { blockRows: 8, layers: [0] });
    assert.deepEqual(zeta.values.get(0), [0.1, 0.2, 0.3]);
    assert.deepEqual([...zeta.arrayTypes], ['Float64Array']);
  }
});

test('npz: writer round trip, stored and deflated, float32 and float64', async () => {
  const a = Float32Array.from(ramp(4 * 3));
  const b = Float64Array.from(ramp(2 * 3, 100));
  for (const compressed of [false, true]) {
    const p = file(`w-${compressed}.npz`);
    writeNpz(p, [{ name: 'layer_10', data: a, shape: [4, 3] }, { name: 'layer_2', data: b, shape: [2, 3] }], { compressed });
    const members = await readNpz(p);
    assert.deepEqual(members.map((m) => [m.name, m.shape, m.data.constructor.name, [...m.data]]), [
      ['layer_10', [4, 3], 'Float32Array', [...a]],
      ['layer_2', [2, 3], 'Float64Array', [...b]],
    ]);
    // zip local header of the first member: compression method 0 = stored (np.savez), 8 = deflate
    assert.equal(fs.readFileSync(p).readUInt16LE(8), compressed ? 8 : 0);
  }
  fs.writeFileSync(file('notzip.npz'), 'not a zip at all');
  await rejectsUser(openHiddenStates(file('notzip.npz')), /notzip\.npz: not a readable \.npz/);
});

// ---------------------------------------------------------------- .safetensors

test('safetensors: 2-D tensors are layers in natural name order; metadata round trips', async () => {
  const tensors = [10, 2, 0, 1].map((i) => ({
    name: `hidden_states.${i}`,
    dtype: 'F32' as const,
    shape: [3, 2],
    data: Float32Array.from(ramp(6, i * 100)),
  }));
  writeSafetensors(file('h.safetensors'), tensors, { model: 'bert-base-uncased', tokens: 'cls' });
  const hs = await openHiddenStates(file('h.safetensors'));
  assert.equal(hs.format, 'safetensors');
  assert.deepEqual(hs.metadata, { model: 'bert-base-uncased', tokens: 'cls' });
  assert.deepEqual(hs.layers.map((l) => [l.layer, l.name]), [
    [0, 'hidden_states.0'], [1, 'hidden_states.1'], [2, 'hidden_states.2'], [3, 'hidden_states.10'],
  ]);
  const got = await collect(hs, { blockRows: 2, layers: [3] });
  assert.deepEqual(got.blocks, [[3, 0, 2], [3, 2, 1]]);
  assert.deepEqual(got.values.get(3), ramp(6, 1000));
  await hs.close();
});

test('safetensors: one 3-D F64 tensor is L layers of float64', async () => {
  const values = ramp(2 * 3 * 4);
  writeSafetensors(file('3d.safetensors'), [{ name: 'states', dtype: 'F64', shape: [2, 3, 4], data: Float64Array.from(values) }]);
  const hs = await openHiddenStates(file('3d.safetensors'));
  assert.deepEqual(hs.metadata, {});
  assert.deepEqual(hs.layers.map((l) => [l.layer, l.name, l.rows, l.cols]), [[0, 'states[0]', 3, 4], [1, 'states[1]', 3, 4]]);
  const got = await collect(hs, { blockRows: 2 });
  assert.deepEqual(got.blocks, [[0, 0, 2], [0, 2, 1], [1, 0, 2], [1, 2, 1]]);
  assert.deepEqual(got.values.get(1), values.slice(12));
  assert.deepEqual([...got.arrayTypes], ['Float64Array']);
  await hs.close();
});

test('safetensors: F16 and BF16 widen exactly (known bit patterns, all 65536 halves)', async () => {
  const halfBits = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3555, 0x8000, 0x7c00, 0xfc00]);
  const bfBits = Uint16Array.from([0x3f80, 0xc040, 0x4049, 0x0001, 0x7f7f, 0x8000, 0x7f80]);
  writeSafetensors(file('half.safetensors'), [
    { name: 'h', dtype: 'F16', shape: [2, 5], data: halfBits },
    { name: 'b', dtype: 'BF16', shape: [7], data: bfBits },
  ]);
  const st = await openSafetensors(file('half.safetensors'));
  const h = await st.readTensor('h');
  const b = await st.readTensor('b');
  await st.close();
  assert.deepEqual(h.shape, [2, 5]);
  assert.ok(h.data instanceof Float32Array);
  // expected values: float(np.uint16(x).view(np.float16)) and float(np.uint32(x << 16).view(np.float32)), numpy 2.4.6
  assert.deepEqual([...h.data], [1, -2, 65504, 5.960464477539063e-8, 6.097555160522461e-5, 6.103515625e-5, 0.333251953125, -0, Infinity, -Infinity]);
  assert.ok(Object.is(h.data[7], -0));
  assert.deepEqual([...b.data], [1, -3, 3.140625, 9.183549615799121e-41, 3.3895313892515355e38, -0, Infinity]);
  // sha256 of np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32).view('<u4').tobytes(), numpy 2.4.6
  const all = halfToFloat32(Uint16Array.from({ length: 65536 }, (_, i) => i));
  assert.equal(createHash('sha256').update(bytesOf(all)).digest('hex'), 'f4fdd084f85448d28c84f20fabf4022ba938e40b7f382d2727dec6f41ac6267a');
  const nanBf = bfloat16ToFloat32(Uint16Array.from([0x7fc1]));
  assert.equal(new Uint32Array(nanBf.buffer)[0], 0x7fc10000);
});

test('safetensors: general reader lists every dtype, reads ranges, refuses unsupported dtypes on read', async () => {
  const weights = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const ids = new Uint8Array(8 * 3); // I64 position ids [0, 1, 2]
  new DataView(ids.buffer).setBigInt64(8, 1n, true);
  new DataView(ids.buffer).setBigInt64(16, 2n, true);
  const header = {
    __metadata__: { format: 'pt', n: 3 },
    'encoder.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
    'embeddings.position_ids': { dtype: 'I64', shape: [1, 3], data_offsets: [24, 48] },
  };
  fs.writeFileSync(file('w.safetensors'), safetensorsBytes(header, Buffer.concat([bytesOf(weights), ids])));
  const st = await openSafetensors(file('w.safetensors'));
  assert.deepEqual(st.metadata, { format: 'pt', n: '3' });
  assert.deepEqual(st.entries.map((e) => [e.name, e.dtype, e.shape, e.begin, e.end]), [
    ['encoder.weight', 'F32', [2, 3], 0, 24],
    ['embeddings.position_ids', 'I64', [1, 3], 24, 48],
  ]);
  assert.deepEqual([...(await st.readTensor('encoder.weight')).data], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...(await st.readElements('encoder.weight', 2, 3))], [3, 4, 5]);
  await rejectsUser(st.readTensor('embeddings.position_ids'), /tensor 'embeddings\.position_ids' has unsupported dtype I64/);
  await rejectsUser(st.readTensor('nope'), /no tensor named 'nope'/);
  await st.close();
  await rejectsUser(openHiddenStates(file('w.safetensors')), /w\.safetensors: tensor 'embeddings\.position_ids' has unsupported dtype I64/);
});

test('safetensors: malformed files are UserErrors', async () => {
  const data = new Uint8Array(24);
  const good = { t: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } };
  const cases: [string, Uint8Array, RegExp][] = [
    ['len.safetensors', safetensorsBytes(good, data, 1_000_000), /header length 1000000 goes beyond the end of the file/],
    ['short.safetensors', new Uint8Array(5), /too short for a \.safetensors file/],
    ['json.safetensors', safetensorsBytes('{"t": {"dtype": "F32",', data), /header is not valid JSON/],
    ['array.safetensors', safetensorsBytes('[1, 2]', data), /header is not a JSON object/],
    ['outside.safetensors', safetensorsBytes({ t: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 48] } }, data), /tensor 't': data_offsets \[0,48\] lie outside the data area \(0\.\.24 bytes\)/],
    ['backwards.safetensors', safetensorsBytes({ t: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, data), /data_offsets \[8,4\] lie outside/],
    ['size.safetensors', safetensorsBytes({ t: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 24] } }, data), /span 24 bytes but shape \[2, 2\] of F32 needs 16/],
    ['entry.safetensors', safetensorsBytes({ t: { dtype: 'F32', shape: [2, 3] } }, data), /tensor 't': header entry .* lacks a valid dtype, shape or data_offsets/],
    ['mixed.safetensors', safetensorsBytes({
      a: { dtype: 'F32', shape: [1, 1, 2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
    }, data), /tensor 'a' is 3-D but the file has 2 tensors/],
    ['rank1.safetensors', safetensorsBytes({ b: { dtype: 'F32', shape: [6], data_offsets: [0, 24] } }, data), /tensor 'b' has shape \(6\); hidden states need/],
    ['none.safetensors', safetensorsBytes({ __metadata__: {} }, new Uint8Array(0)), /holds no tensors/],
  ];
  for (const [name, bytes, pattern] of cases) {
    fs.writeFileSync(file(name), bytes);
    await rejectsUser(openHiddenStates(file(name)), new RegExp(name.replace('.', '\\.')), pattern);
  }
});

// ---------------------------------------------------------------- Arrow

/** Three layers (HF numbers 0, 5, 12), 7 rows each, d = 2, written interleaved in two record batches. */
function writeArrowFixture(p: string, poison?: { layer: number; row: number; value: number }): Map<number, number[]> {
  const d = 2;
  const layers = [0, 5, 12];
  const expected = new Map<number, number[]>(layers.map((l) => [l, []]));
  const w = createArrowWriter(p, d, { model: 'tiny-bert', options: '{"tokens":"all"}' });
  for (const [from, to] of [[0, 4], [4, 7]]) {
    const layer: number[] = [], example: number[] = [], position: number[] = [], tokenId: number[] = [], vectors: number[] = [];
    for (let row = from; row < to; row++) {
      for (const l of layers) {
        const v = [l * 1000 + row + 0.5, -(l * 1000 + row) - 0.25];
        if (poison && poison.layer === l && poison.row === row) v[1] = poison.value;
        expected.get(l)!.push(...v);
        layer.push(l); example.push(row); position.push(row % 3); tokenId.push(100 + row); vectors.push(...v);
      }
    }
    w.write({ layer: Int16Array.from(layer), example, position, tokenId: Int32Array.from(tokenId), vectors: Float32Array.from(vectors) });
  }
  w.close();
  return expected;
}

test('arrow: writer output is an IPC file; reader counts layers and scans blocks per layer in row order', async () => {
  const p = file('states.arrow');
  const expected = writeArrowFixture(p);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('states.arrow.tmp')), []);
  const bytes = fs.readFileSync(p);
  assert.equal(bytes.subarray(0, 6).toString('latin1'), 'ARROW1');
  assert.equal(bytes.subarray(-6).toString('latin1'), 'ARROW1');

  const hs = await openHiddenStates(p);
  assert.equal(hs.format, 'arrow');
  assert.deepEqual(hs.metadata, { model: 'tiny-bert', options: '{"tokens":"all"}' });
  assert.deepEqual(hs.layers, [
    { layer: 0, name: 'layer 0', rows: 7, cols: 2 },
    { layer: 5, name: 'layer 5', rows: 7, cols: 2 },
    { layer: 12, name: 'layer 12', rows: 7, cols: 2 },
  ]);
  const got = await collect(hs, { blockRows: 3 });
  for (const l of [0, 5, 12]) {
    assert.deepEqual(got.values.get(l), expected.get(l));
    assert.deepEqual(got.blocks.filter((b) => b[0] === l).map((b) => [b[1], b[2]]), [[0, 3], [3, 3], [6, 1]]);
  }
  assert.deepEqual([...got.arrayTypes], ['Float32Array']);
  const one = await collect(hs, { blockRows: 100, layers: [12] });
  assert.deepEqual(one.blocks, [[12, 0, 7]]);
  assert.deepEqual(one.values.get(12), expected.get(12));
  await rejectsUser(collect(hs, { blockRows: 3, layers: [1] }), /no layer 1 \(layers: 0, 5, 12\)/);
  await hs.close();
});

test('arrow: abort leaves no file; bad writer input is a RangeError', () => {
  const p = file('aborted.arrow');
  const w = createArrowWriter(p, 2);
  w.write({ layer: [1], example: [0], position: [0], tokenId: [0], vectors: Float32Array.from([1, 2]) });
  assert.throws(() => w.write({ layer: [1], example: [0], position: [0], tokenId: [0], vectors: new Float32Array(3) }), RangeError);
  assert.throws(() => w.write({ layer: [40000], example: [0], position: [0], tokenId: [0], vectors: new Float32Array(2) }), /layer value 40000 does not fit/);
  w.abort();
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('aborted.arrow')), []);
});

test('arrow: stream-format files are read too', async () => {
  const type = new FixedSizeList(2, new Field('item', new Float32()));
  const vector = makeVector(makeData({ type, length: 3, child: makeData({ type: new Float32(), length: 6, data: Float32Array.from([1, 2, 3, 4, 5, 6]) }) }));
  const table = new Table({ layer: makeVector(Int16Array.from([4, 7, 4])), vector });
  fs.writeFileSync(file('stream.ipc'), tableToIPC(table, 'stream'));
  const hs = await openHiddenStates(file('stream.ipc'));
  assert.deepEqual(hs.layers.map((l) => [l.layer, l.rows, l.cols]), [[4, 2, 2], [7, 1, 2]]);
  const got = await collect(hs, { blockRows: 5 });
  assert.deepEqual(got.values.get(4), [1, 2, 5, 6]);
  assert.deepEqual(got.values.get(7), [3, 4]);
});

test('arrow: empty file, missing columns, wrong vector type, not Arrow', async () => {
  const empty = createArrowWriter(file('empty.arrow'), 4);
  empty.close();
  await rejectsUser(openHiddenStates(file('empty.arrow')), /empty\.arrow: the Arrow file has no rows/);
  fs.writeFileSync(file('novector.arrow'), tableToIPC(tableFromArrays({ layer: Int16Array.from([0, 1]) }), 'file'));
  await rejectsUser(openHiddenStates(file('novector.arrow')), /novector\.arrow: missing column 'vector' \(it has layer\)/);
  fs.writeFileSync(file('nolayer.arrow'), tableToIPC(tableFromArrays({ vector: Float32Array.from([0, 1]) }), 'file'));
  await rejectsUser(openHiddenStates(file('nolayer.arrow')), /missing column 'layer'/);
  fs.writeFileSync(file('flat.arrow'), tableToIPC(tableFromArrays({ layer: Int16Array.from([0]), vector: Float32Array.from([1]) }), 'file'));
  await rejectsUser(openHiddenStates(file('flat.arrow')), /column 'vector' has type Float32; it must be FixedSizeList<Float32>\[d\]/);
  fs.writeFileSync(file('garbage.arrow'), 'this is not arrow data, just some text of sufficient length');
  await rejectsUser(openHiddenStates(file('garbage.arrow')), /garbage\.arrow: not a readable Arrow IPC file/);
});

// ---------------------------------------------------------------- NaN / Inf

test('non-finite values: error names file, layer and row; drop skips rows and counts them', async () => {
  const values = ramp(2 * 6 * 2);
  values[(6 + 3) * 2 + 1] = NaN; // layer 1, row 3
  values[(6 + 5) * 2] = -Infinity; // layer 1, row 5
  writeNpy(file('nan.npy'), Float32Array.from(values), [2, 6, 2]);
  const hs = await openHiddenStates(file('nan.npy'));
  await rejectsUser(collect(hs, { blockRows: 4 }), /nan\.npy: layer 1, row 3: NaN or Inf value/, /--drop-nonfinite/);
  const got = await collect(hs, { blockRows: 3, nonFinite: 'drop' });
  // layer 1 blocks: rows 0-2 intact; rows 3-5 lose 3 and 5, leaving row 4 (firstRow = its row in the file)
  assert.deepEqual(got.blocks, [[0, 0, 3], [0, 3, 3], [1, 0, 3], [1, 4, 1]]);
  assert.deepEqual(got.values.get(1), [...values.slice(12, 18), ...values.slice(20, 22)]);
  assert.deepEqual([...hs.dropped], [[0, 0], [1, 2]]);
  await collect(hs, { blockRows: 3, nonFinite: 'drop', layers: [0] });
  assert.deepEqual([...hs.dropped], [[0, 0], [1, 2]]);
  await hs.close();

  const p = file('nan.arrow');
  writeArrowFixture(p, { layer: 5, row: 6, value: Infinity });
  const a = await openHiddenStates(p);
  await rejectsUser(collect(a, { blockRows: 4, layers: [12, 5] }), /nan\.arrow: layer 5, row 6: NaN or Inf value/);
  const kept = await collect(a, { blockRows: 4, nonFinite: 'drop', layers: [5] });
  assert.deepEqual(kept.blocks, [[5, 0, 4], [5, 4, 2]]);
  assert.equal(a.dropped.get(5), 1);
});

// ---------------------------------------------------------------- dispatch

test('openHiddenStates: unknown extension and missing file', async () => {
  await rejectsUser(openHiddenStates(file('states.csv')), /states\.csv: unknown extension '\.csv'; hidden-state files must be \.npy, \.npz, \.safetensors, \.arrow/);
  await rejectsUser(openHiddenStates(file('missing.npy')), /missing\.npy: cannot open \(no such file\)/);
  await rejectsUser(openHiddenStates(file('missing.arrow')), /missing\.arrow: cannot open \(no such file\)/);
  fs.mkdirSync(file('adir.safetensors'));
  await rejectsUser(openHiddenStates(file('adir.safetensors')), /not a regular file/);
});

test('naturalCompare orders numeric parts as numbers', () => {
  const names = ['h.10', 'h.2', 'h.1b', 'h.1', 'a', 'h.0'];
  assert.deepEqual(names.sort(naturalCompare), ['a', 'h.0', 'h.1', 'h.1b', 'h.2', 'h.10']);
});
