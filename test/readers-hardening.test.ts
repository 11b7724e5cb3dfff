/**
 * The readers on hostile input, one named case each: corrupt Arrow files and streams (every
 * aligned integer of the file overwritten, in process, with a hang guard), deeply nested brackets
 * in npy / safetensors / JSONL headers, FIFOs and devices given as inputs (measure, --data,
 * config.json), .npz zip bombs and lying zip sizes, `--limit` reading only the start of a file,
 * and values near the float range.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Field, FixedSizeList, Float32, Table, makeData, makeVector, tableToIPC } from 'apache-arrow';
import { Footer } from 'apache-arrow/ipc/metadata/file';
import { UserError } from '../src/errors.js';
import { openHiddenStates } from '../src/io/hidden-states.js';
import { writeNpy } from '../src/io/npy.js';
import { readNpz, writeNpz } from '../src/io/npz.js';
import { openSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { createArrowWriter } from '../src/io/arrow.js';
import { readDataset } from '../src/io/datasets.js';
import { readLinesSync, readTextFileSync } from '../src/io/file-io.js';
import { parsePythonLiteral } from '../src/io/python-literal.js';
import { repgeom } from './helpers/cli.js';
import { throwsUser } from './helpers/errors.js';
import { SHARED } from './helpers/fixtures.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-hardening-'));
const file = (name: string) => path.join(tmp, name);
const TINY = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function rejectsUser(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `message is not one line: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

/** Open and scan a whole hidden-state file; resolves to the value count. */
async function readAll(p: string): Promise<number> {
  const hs = await openHiddenStates(p);
  let n = 0;
  try {
    for await (const { block } of hs.scan({ blockRows: 7 })) n += block.data.length;
  } finally {
    await hs.close();
  }
  return n;
}

/** `promise`, or a rejection after `ms` (a hang guard: these reads take milliseconds). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const guard = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no end within ${ms} ms`)), ms); });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/**
 * Overwrite every 4-byte-aligned word of `bytes` with each of `values` in turn and read the
 * result: each read must succeed or fail with a one-line UserError, never hang or throw anything
 * else. Returns how many variants were refused.
 */
async function sweepWords(bytes: Uint8Array, ext: string, values: number[]): Promise<number> {
  let refused = 0;
  const p = file(`sweep${ext}`);
  for (let at = 0; at + 4 <= bytes.byteLength; at += 4) {
    for (const v of values) {
      const b = bytes.slice();
      new DataView(b.buffer).setInt32(at, v, true);
      fs.writeFileSync(p, b);
      try {
        await within(readAll(p), 10_000, `word at ${at} := ${v}`);
      } catch (e) {
        assert.ok(e instanceof UserError, `word at ${at} := ${v}: ${e instanceof Error ? e.stack : String(e)}`);
        assert.ok(!e.message.includes('\n'));
        refused++;
      }
    }
  }
  return refused;
}

const HOSTILE_WORDS = [0, -1, 0x7fffffff, -0x80000000, 0x10000, 3];

function arrowFile(p: string): Uint8Array {
  const w = createArrowWriter(p, 3);
  for (let b = 0; b < 3; b++) {
    w.write({ layer: [0, 1, 0, 1], example: [0, 0, 1, 1], position: [0, 0, 0, 0], tokenId: [5, 5, 6, 6], vectors: Float32Array.from({ length: 12 }, (_, i) => i + b) });
  }
  w.close();
  return new Uint8Array(fs.readFileSync(p));
}

function arrowStream(): Uint8Array {
  const type = new FixedSizeList(2, new Field('item', new Float32()));
  const table = (n: number) => new Table({
    layer: makeVector(Int16Array.from({ length: n }, (_, i) => i % 2)),
    vector: makeVector(makeData({ type, length: n, child: makeData({ type: new Float32(), length: 2 * n, data: Float32Array.from({ length: 2 * n }, (_, i) => i) }) })),
  });
  return tableToIPC(table(4).concat(table(3)), 'stream');
}

// ---------------------------------------------------------------- Arrow

test('corrupt Arrow IPC file: every metadata word overwritten ends in a UserError or a read, never a hang or TypeError', async () => {
  const bytes = arrowFile(file('good.arrow'));
  assert.equal(await readAll(file('good.arrow')), 3 * 4 * 3);
  const refused = await sweepWords(bytes, '.arrow', HOSTILE_WORDS);
  assert.ok(refused > bytes.byteLength / 8, `only ${refused} variants refused`);
});

test('corrupt Arrow IPC stream: the same sweep', async () => {
  const bytes = arrowStream();
  fs.writeFileSync(file('good.ipc'), bytes);
  assert.equal(await readAll(file('good.ipc')), 14);
  const refused = await sweepWords(bytes, '.ipc', HOSTILE_WORDS);
  assert.ok(refused > bytes.byteLength / 8, `only ${refused} variants refused`);
});

test('Arrow: lengths beyond the file are refused before anything is read, naming the file and the batch', async () => {
  const bytes = arrowFile(file('lie.arrow'));
  // Find record batch 1's Block struct in the footer (offset i64, metadata length i32, pad, body length i64)
  // and make its body length 2^31 - 1.
  const footerLength = new DataView(bytes.buffer).getInt32(bytes.byteLength - 10, true);
  const footer = Footer.decode(bytes.subarray(bytes.byteLength - 10 - footerLength, bytes.byteLength - 10));
  const block = footer.getRecordBatch(1)!;
  const view = new DataView(bytes.buffer);
  let at = -1;
  for (let p = bytes.byteLength - 10 - footerLength; p + 24 <= bytes.byteLength - 10; p += 4) {
    if (Number(view.getBigInt64(p, true)) === block.offset && view.getInt32(p + 8, true) === block.metaDataLength &&
      Number(view.getBigInt64(p + 16, true)) === block.bodyLength) at = p + 16;
  }
  assert.ok(at > 0, 'block 1 not found in the footer');
  view.setBigInt64(at, 0x7fffffffn, true);
  fs.writeFileSync(file('lie.arrow'), bytes);
  await rejectsUser(openHiddenStates(file('lie.arrow')), /^\S*lie\.arrow: corrupt Arrow IPC data \(record batch 1: block at byte \d+ with \d+ metadata and 2147483647 body bytes lies outside the data .*\); re-create the file with repgeom extract/);
  // The footer length itself beyond the file.
  const footerLie = arrowFile(file('footer.arrow'));
  new DataView(footerLie.buffer).setInt32(footerLie.byteLength - 10, 0x7ffffff0, true);
  fs.writeFileSync(file('footer.arrow'), footerLie);
  await rejectsUser(openHiddenStates(file('footer.arrow')), /footer\.arrow: not a readable Arrow IPC file \(footer length 2147483632 does not fit in the \d+-byte file\)/);
  // A stream whose first message claims 1 GB of metadata: refused at once (apache-arrow would wait for it).
  const stream = arrowStream();
  new DataView(stream.buffer, stream.byteOffset).setInt32(4, 1 << 30, true);
  fs.writeFileSync(file('lie.ipc'), stream);
  await rejectsUser(within(openHiddenStates(file('lie.ipc')), 10_000, 'lie.ipc'), /lie\.ipc: not a readable Arrow IPC file \(message declares 1073741824 metadata bytes/);
  // Truncated in the middle of a record batch body.
  const whole = arrowStream();
  fs.writeFileSync(file('cut.ipc'), whole.subarray(0, whole.byteLength - 40));
  await rejectsUser(openHiddenStates(file('cut.ipc')), /cut\.ipc: corrupt Arrow IPC data \(record batch 1 .*goes past the end of the file.*re-create the file/);
});

// ---------------------------------------------------------------- nesting

test('deeply nested brackets: npy header, safetensors header, JSONL line are UserErrors, not stack overflows', async () => {
  throwsUser(() => parsePythonLiteral(`{'shape': ${'('.repeat(100_000)}`, 'x.npy: header'), /x\.npy: header: brackets nested more than 16 deep/);
  const text = `{'descr': '<f4', 'fortran_order': False, 'shape': ${'('.repeat(60_000)}1${')'.repeat(10)}, }`;
  // Version 2 (4-byte header length), so the header may be longer than 64 KB.
  const npy = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0, 0, 0, 0]), Buffer.from(text + '\n', 'latin1')]);
  npy.writeUInt32LE(text.length + 1, 8);
  fs.writeFileSync(file('deep.npy'), npy);
  await rejectsUser(openHiddenStates(file('deep.npy')), /deep\.npy: \.npy header: brackets nested more than 16 deep at character \d+ of ".{0,70}"; re-save/);
  const r = repgeom(['measure', file('deep.npy')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^repgeom: .*deep\.npy: \.npy header: brackets nested/);
  assert.equal(r.stderr.trim().split('\n').length, 1);

  const json = `{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "x": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file('deep.safetensors'), Buffer.concat([len, Buffer.from(json), Buffer.alloc(4)]));
  await rejectsUser(openSafetensors(file('deep.safetensors')), /deep\.safetensors: header is JSON nested more than 8 levels deep/);

  fs.writeFileSync(file('deep.jsonl'), `{"text": "fine"}\n{"text": "x", "y": ${'['.repeat(300_000)}${']'.repeat(300_000)}}\n`);
  throwsUser(() => readDataset(file('deep.jsonl')), /deep\.jsonl:2: JSON nested more than 100 levels deep/);
  // A non-string text field that is deep but within the limit is shown cut short, not whole.
  fs.writeFileSync(file('long.jsonl'), `{"text": ${JSON.stringify(Array.from({ length: 5000 }, (_, i) => i))}}\n`);
  throwsUser(() => readDataset(file('long.jsonl')), /long\.jsonl:1: field 'text' is not a string \(\[0,1,2,.{0,80}…\)$/);
});

test('npy: a header length over the cap or beyond the file is refused before allocating it', async () => {
  const npy = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0xff, 0xff, 0xff, 0xf0, 0x20, 0x20]);
  fs.writeFileSync(file('hugeheader.npy'), npy);
  await rejectsUser(openHiddenStates(file('hugeheader.npy')), /hugeheader\.npy: \.npy header length 4043309055 is over the 100000-byte limit/);
  npy.writeUInt32LE(5000, 8);
  fs.writeFileSync(file('shortheader.npy'), npy);
  await rejectsUser(openHiddenStates(file('shortheader.npy')), /shortheader\.npy: truncated \.npy header: expected 5000 bytes, found 2/);
});

// ---------------------------------------------------------------- FIFOs and devices

function mkfifo(p: string): void {
  const r = spawnSync('mkfifo', [p]);
  assert.equal(r.status, 0, `mkfifo failed: ${r.stderr}`);
}

test('a FIFO or a device as input is refused at once (measure, extract --data, config.json), never opened', { timeout: 120_000 }, async () => {
  mkfifo(file('pipe.npy'));
  await rejectsUser(within(openHiddenStates(file('pipe.npy')), 5_000, 'pipe.npy'), /pipe\.npy: not a regular file \(a FIFO\); give the path of a regular file/);
  const m = repgeom(['measure', file('pipe.npy')]);
  assert.equal(m.status, 2, m.stderr);
  assert.match(m.stderr, /^repgeom: .*pipe\.npy: not a regular file \(a FIFO\)/);

  fs.symlinkSync('/dev/zero', file('zero.safetensors'));
  await rejectsUser(openHiddenStates(file('zero.safetensors')), /zero\.safetensors: not a regular file \(a device\)/);

  mkfifo(file('pipe.txt'));
  throwsUser(() => readDataset(file('pipe.txt')), /pipe\.txt: not a regular file \(a FIFO\); give the path of a dataset file/);
  throwsUser(() => readTextFileSync(file('pipe.txt')), /not a regular file \(a FIFO\)/);
  const model = file('model');
  fs.mkdirSync(model);
  for (const f of ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) {
    fs.symlinkSync(path.join(TINY, f), path.join(model, f));
  }
  fs.copyFileSync(path.join(TINY, 'config.json'), path.join(model, 'config.json'));
  const e = repgeom(['extract', '--model', model, '--data', file('pipe.txt'), '--out', file('s.arrow'), '--quiet']);
  assert.equal(e.status, 2, e.stderr);
  assert.match(e.stderr, /^repgeom: .*pipe\.txt: not a regular file \(a FIFO\)/);
  fs.rmSync(path.join(model, 'config.json'));
  mkfifo(path.join(model, 'config.json'));
  fs.writeFileSync(file('d.txt'), 'one line\n');
  const c = repgeom(['extract', '--model', model, '--data', file('d.txt'), '--out', file('s.arrow'), '--quiet']);
  assert.equal(c.status, 2, c.stderr);
  assert.match(c.stderr, /^repgeom: .*config\.json: not a regular file \(a FIFO\)/);
  assert.equal(fs.existsSync(file('s.arrow')), false);
});

// ---------------------------------------------------------------- npz

test('npz: a zip bomb is refused from its declared sizes; lying sizes and entry counts too', async () => {
  writeNpz(file('bomb.npz'), [{ name: 'zeros', data: new Float32Array(20_000_000), shape: [5_000_000, 4] }], { compressed: true });
  assert.ok(fs.statSync(file('bomb.npz')).size < 200_000);
  await rejectsUser(readNpz(file('bomb.npz')), /bomb\.npz: the arrays inflate to more than 80\.0 MB from a 0\.\d MB archive .*zip bomb/);

  writeNpz(file('small.npz'), [{ name: 'a', data: Float32Array.from({ length: 40 }, (_, i) => i), shape: [10, 4] }], { compressed: true });
  const good = fs.readFileSync(file('small.npz'));
  const central = good.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  const lying = Buffer.from(good);
  lying.writeUInt32LE(0x7fffffff, central + 24); // uncompressed size in the central directory
  fs.writeFileSync(file('lying.npz'), lying);
  await rejectsUser(readNpz(file('lying.npz')), /lying\.npz: member 'a\.npy' declares 2147483647 bytes from \d+ compressed, more than zip can produce/);
  const longer = Buffer.from(good);
  longer.writeUInt32LE(good.readUInt32LE(central + 24) + 64, central + 24);
  fs.writeFileSync(file('longer.npz'), longer);
  await rejectsUser(readNpz(file('longer.npz')), /longer\.npz\/a\.npy: (the zip declares \d+ bytes but the \.npy header describes \d+|truncated)/);
  const end = good.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const many = Buffer.from(good);
  many.writeUInt16LE(0xffff, end + 10);
  fs.writeFileSync(file('many.npz'), many);
  await rejectsUser(readNpz(file('many.npz')), /many\.npz: the zip directory claims 65535 members/);
  assert.deepEqual([...(await readNpz(file('small.npz')))[0].data].slice(0, 3), [0, 1, 2]);
});

// ---------------------------------------------------------------- streamed datasets

test('--limit reads only the start: a 3 GB sparse text file, and JSONL/TSV with a bad tail', () => {
  const big = file('big.txt');
  fs.writeFileSync(big, Array.from({ length: 20 }, (_, i) => `sentence number ${i}`).join('\n') + '\n');
  fs.truncateSync(big, 3 * 1024 ** 3); // sparse: NUL bytes that take no disk space
  const d = readDataset(big, { limit: 10 });
  assert.deepEqual(d.examples.map((e) => e.text), Array.from({ length: 10 }, (_, i) => `sentence number ${i}`));

  fs.writeFileSync(file('tail.jsonl'), `${Array.from({ length: 5 }, (_, i) => JSON.stringify({ text: `t${i}`, label: i % 2 })).join('\n')}\n{not json\n`);
  assert.equal(readDataset(file('tail.jsonl'), { limit: 5 }).examples.length, 5);
  throwsUser(() => readDataset(file('tail.jsonl')), /tail\.jsonl:6: not valid JSON/);

  const dir = file('SST-2');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'dev.tsv'), `sentence\tlabel\n${Array.from({ length: 4 }, (_, i) => `s${i}\t${i % 2}`).join('\n')}\nbroken row without tab\n`);
  const limited = readDataset(dir, { limit: 4 });
  assert.deepEqual([limited.examples.length, limited.warnings], [4, []]);
  assert.match(readDataset(dir).warnings.join(' '), /skipped 1 malformed row .*\(line 6\)/);
});

test('readLinesSync: BOM, CRLF, no final newline, a multi-byte character across the chunk boundary', () => {
  const p = file('lines.txt');
  const long = 'a'.repeat(65535) + 'é' + 'b'; // 'é' is 2 bytes, split by the 64 KiB read
  fs.writeFileSync(p, `\ufeffone\r\ntwo\n${long}\nlast`);
  assert.deepEqual([...readLinesSync(p)], ['one', 'two', long, 'last']);
  fs.writeFileSync(p, 'x\n\ny\n');
  assert.deepEqual([...readLinesSync(p)], ['x', '', 'y']);
  fs.writeFileSync(p, '');
  assert.deepEqual([...readLinesSync(p)], []);
});

// ---------------------------------------------------------------- huge values

test('values near the float range are read exactly (the readers do no arithmetic on them)', async () => {
  const f64 = Float64Array.from([1e300, -1e300, 1.7e308, 5e-324, 0, 1e200, 2e200, -3e200]);
  writeNpy(file('huge.npy'), f64, [4, 2]);
  const hs = await openHiddenStates(file('huge.npy'));
  const got: number[] = [];
  for await (const { block } of hs.scan({ blockRows: 3 })) got.push(...block.data);
  await hs.close();
  assert.deepEqual(got, [...f64]);
  const f32 = Float32Array.from([3.4e38, -3.4e38, 1e38, 2e38]);
  writeSafetensors(file('huge.safetensors'), [{ name: 'h', dtype: 'F32', shape: [2, 2], data: f32 }]);
  const st = await openHiddenStates(file('huge.safetensors'));
  const got32: number[] = [];
  for await (const { block } of st.scan({ blockRows: 3 })) got32.push(...block.data);
  await st.close();
  assert.deepEqual(got32, [...f32]);
});

test('npy, npz and safetensors: every aligned word overwritten ends in a UserError or a read', async () => {
  const data = Float32Array.from({ length: 2 * 6 * 3 }, (_, i) => i / 7);
  writeNpy(file('w.npy'), data, [2, 6, 3]);
  writeNpz(file('w.npz'), [{ name: 'a', data, shape: [2, 6, 3] }]);
  writeNpz(file('wz.npz'), [{ name: 'a', data, shape: [2, 6, 3] }], { compressed: true });
  writeSafetensors(file('w.safetensors'), [0, 1].map((l) => ({ name: `h.${l}`, dtype: 'F32' as const, shape: [6, 3], data: data.subarray(l * 18, (l + 1) * 18) })));
  for (const [name, ext] of [['w.npy', '.npy'], ['w.npz', '.npz'], ['wz.npz', '.npz'], ['w.safetensors', '.safetensors']]) {
    const bytes = new Uint8Array(fs.readFileSync(file(name)));
    assert.equal(await readAll(file(name)), data.length, name);
    const refused = await sweepWords(bytes, ext, HOSTILE_WORDS);
    assert.ok(refused > 0, `${name}: no variant refused`);
  }
});

test('config.json: a syntax error quoting bytes with newlines, and deep nesting, are one-line errors', () => {
  const model = file('model-json');
  fs.mkdirSync(model);
  for (const f of ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) {
    fs.symlinkSync(path.join(TINY, f), path.join(model, f));
  }
  fs.writeFileSync(file('one.txt'), 'a line\n');
  const run = () => repgeom(['extract', '--model', model, '--data', file('one.txt'), '--out', file('json.arrow'), '--quiet']);
  fs.writeFileSync(path.join(model, 'config.json'), '{\n  "model_type": "bert",\n  "hidden_size"\u0001\n: 128,\n  "x": 1\n}');
  let r = run();
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^repgeom: .*config\.json: not valid JSON \(/);
  fs.writeFileSync(path.join(model, 'config.json'), `{"model_type": "bert", "x": ${'['.repeat(50_000)}${']'.repeat(50_000)}}`);
  r = run();
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^repgeom: .*config\.json: JSON nested more than 100 levels deep/);
  assert.equal(fs.existsSync(file('json.arrow')), false);
});
