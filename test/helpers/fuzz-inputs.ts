/**
 * Inputs for the fuzz tests: small valid files of every format the readers take (written by the
 * project's own writers, or apache-arrow for the stream format; the run-folder formats come from
 * real tiny runs, see fuzz-targets.ts), and seeded corruptions of them — bit flips, overwritten
 * bytes, truncations, insertions, deletions, and lying fields (shapes, lengths, offsets, JSON
 * values rewritten to other, huge, wrongly typed or deeply nested ones).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Field, FixedSizeList, Float32, Table, makeData, makeVector, tableToIPC } from 'apache-arrow';
import { Rng } from '../../src/backend/rng.js';
import { writeNpy } from '../../src/io/npy.js';
import { writeNpz } from '../../src/io/npz.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { createArrowWriter } from '../../src/io/arrow.js';
import { gaussianMatrix } from './fixtures.js';

export type FuzzTargetName = 'measure' | 'extract' | 'sweep-status' | 'sweep-status-json' | 'compare' | 'intrinsic-dim' | 'train-lock';

export interface FuzzSeed {
  /** Short name for reports, e.g. "npy-3d-f64". */
  name: string;
  /** Which fuzz target (fuzz-targets.ts) sets up the case's folder and command around the bytes. */
  target: FuzzTargetName;
  /** measure: the input file's extension; other targets: the name of the file the bytes replace. */
  ext: string;
  bytes: Uint8Array;
  /**
   * This seed's slots in each round of cases: 2 for the hidden-state files and config.json, 1 for
   * the run-folder files (their commands load a model or train a step: slower cases).
   */
  share: number;
  /** A format-aware lie: a header field rewritten to another or a huge value. */
  lie(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; how: string };
}

/** Values that break length and offset arithmetic. */
function interesting(rng: Rng, size: number): number {
  const values = [0, 1, -1, 7, 0x7f, 0xff, 0x7fff, 0xffff, 0x7fffffff, -0x80000000, 0xffffffff, size, size + 1, size * 2, 1 << 20, 1 << 30];
  return rng.nextInt(4) === 0 ? rng.nextUint32() : values[rng.nextInt(values.length)];
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.nextInt(items.length)];
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

function readBack(dir: string, name: string, write: (p: string) => void): Uint8Array {
  const p = path.join(dir, name);
  write(p);
  return new Uint8Array(fs.readFileSync(p));
}

/** Overwrite a 4- or 8-byte little-endian integer at `at` with an interesting value. */
function overwriteInt(rng: Rng, bytes: Uint8Array, at: number): { bytes: Uint8Array; how: string } {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const value = interesting(rng, bytes.byteLength);
  const wide = rng.nextInt(3) === 0 && at + 8 <= out.byteLength;
  if (wide) view.setBigInt64(at, BigInt(value) * (rng.nextInt(4) === 0 ? 1n << 20n : 1n), true);
  else if (at + 4 <= out.byteLength) view.setInt32(at, value | 0, true);
  return { bytes: out, how: `int${wide ? 64 : 32} at ${at} := ${value}` };
}

// ------------------------------------------------------------------ lies per format

/** Rewrite the numbers of an .npy header's shape (the header text is rebuilt, its length updated or not). */
function lieNpy(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; how: string } {
  const version = bytes[6];
  const start = version === 1 ? 10 : 12;
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const length = version === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (rng.nextInt(3) === 0) return overwriteInt(rng, bytes, 8); // the header length itself
  const text = Buffer.from(bytes.subarray(start, start + length)).toString('latin1');
  const shape = /\(([^)]*)\)/.exec(text);
  if (!shape) return overwriteInt(rng, bytes, 8);
  const dims = shape[1].split(',').map((s) => s.trim()).filter(Boolean);
  const k = rng.nextInt(dims.length);
  const choices = ['0', '1', '-1', '1000000000000', '9007199254740993', String(rng.nextUint32()), `${dims[k]}0`, '(((((1)))))', '[' .repeat(2000) + ']'.repeat(2000)];
  dims[k] = pick(rng, choices);
  if (rng.nextInt(4) === 0) dims.push(pick(rng, choices));
  const newText = text.replace(shape[0], `(${dims.join(', ')})`);
  const header = Buffer.from(newText, 'latin1');
  const pre = Buffer.from(bytes.subarray(0, start));
  const pv = new DataView(pre.buffer, pre.byteOffset);
  const keepLength = rng.nextInt(4) === 0;
  if (!keepLength) {
    if (version === 1) pv.setUint16(8, header.length & 0xffff, true);
    else pv.setUint32(8, header.length, true);
  }
  return { bytes: concat(pre, header, bytes.subarray(start + length)), how: `npy shape := (${dims.join(', ').slice(0, 40)})${keepLength ? ', old header length' : ''}` };
}

/** Rewrite a field of one safetensors header entry (shape, data_offsets, dtype) or the header length. */
function lieSafetensors(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; how: string } {
  if (rng.nextInt(4) === 0) return overwriteInt(rng, bytes, 0);
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + length)).toString('utf8')) as Record<string, Record<string, unknown>>;
  const names = Object.keys(header).filter((n) => n !== '__metadata__');
  const name = pick(rng, names);
  const entry = header[name];
  const big = (): unknown => pick(rng, [0, 1, -1, 2 ** 40, 2 ** 53 + 2, 1.5, 'x', null, interesting(rng, bytes.byteLength)]);
  const field = pick(rng, ['shape', 'data_offsets', 'dtype', 'nest']);
  let how: string;
  if (field === 'shape' && Array.isArray(entry.shape)) {
    const shape = entry.shape as unknown[];
    shape[rng.nextInt(shape.length)] = big();
    how = `shape := ${JSON.stringify(shape)}`;
  } else if (field === 'data_offsets') {
    const offsets = entry.data_offsets as unknown[];
    offsets[rng.nextInt(2)] = big();
    how = `data_offsets := ${JSON.stringify(offsets)}`;
  } else if (field === 'dtype') {
    entry.dtype = pick(rng, ['F16', 'BF16', 'F64', 'I64', 'U8', 'BOOL', 'X9', '']);
    how = `dtype := ${String(entry.dtype)}`;
  } else {
    how = 'deeply nested brackets in the header';
  }
  let text = JSON.stringify(header);
  if (field === 'nest') text = `{"deep":${'['.repeat(50_000)}${']'.repeat(50_000)},${text.slice(1)}`;
  const headerBytes = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  return { bytes: concat(len, headerBytes, bytes.subarray(8 + length)), how: `tensor '${name}': ${how}` };
}

/** Rewrite a size, count or offset field of the zip's central directory, local headers or end record. */
function lieZip(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; how: string } {
  const buf = Buffer.from(bytes);
  const places: [number, string][] = [];
  for (let i = 0; i + 4 <= buf.length; i++) {
    const sig = buf.readUInt32LE(i);
    if (sig === 0x02014b50) places.push([i + 20, 'central compressed size'], [i + 24, 'central uncompressed size'], [i + 42, 'central local-header offset']);
    else if (sig === 0x04034b50) places.push([i + 18, 'local compressed size'], [i + 22, 'local uncompressed size']);
    else if (sig === 0x06054b50) places.push([i + 8, 'entries on disk'], [i + 10, 'entries'], [i + 12, 'directory size'], [i + 16, 'directory offset']);
  }
  if (places.length === 0) return overwriteInt(rng, bytes, rng.nextInt(Math.max(1, bytes.byteLength - 4)));
  const [at, what] = pick(rng, places);
  const out = new Uint8Array(buf);
  const value = interesting(rng, bytes.byteLength) >>> 0;
  if (what.startsWith('entries')) new DataView(out.buffer).setUint16(at, value & 0xffff, true);
  else new DataView(out.buffer).setUint32(at, value, true);
  return { bytes: out, how: `zip ${what} := ${value}` };
}

/** Overwrite an aligned integer in Arrow metadata (lengths, offsets, counts) or the footer length. */
function lieArrow(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; how: string } {
  const isFile = Buffer.from(bytes.subarray(0, 6)).toString('latin1') === 'ARROW1';
  if (isFile && rng.nextInt(4) === 0) return overwriteInt(rng, bytes, bytes.byteLength - 10);
  return overwriteInt(rng, bytes, 4 * rng.nextInt(Math.floor(bytes.byteLength / 4)));
}

/** Rewrite one value of config.json (to a huge, negative, fractional, wrongly typed or deeply nested one). */
function lieConfig(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; how: string } {
  const config = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  const key = pick(rng, Object.keys(config));
  const values: unknown[] = [0, -1, 1, 3, 1.5, 1e9, 2 ** 31, 2 ** 53 + 2, 1e308, '', 'x', null, true, [], {}, [128]];
  const nest = rng.nextInt(8) === 0;
  const value = nest ? undefined : pick(rng, values);
  config[key] = value;
  let text = JSON.stringify(config, null, 2);
  if (nest) text = text.replace('{', `{"nested": ${'['.repeat(20_000)}${']'.repeat(20_000)},`);
  return { bytes: new Uint8Array(Buffer.from(text)), how: nest ? 'deeply nested brackets' : `${key} := ${JSON.stringify(value)}` };
}

/** Every path (keys from the root) to a value of a parsed JSON document, the root excluded. */
function jsonPaths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (out.length > 2000 || value === null || typeof value !== 'object') return out;
  for (const key of Array.isArray(value) ? value.keys() : Object.keys(value)) {
    out.push([...prefix, key]);
    jsonPaths((value as Record<string | number, unknown>)[key], [...prefix, key], out);
  }
  return out;
}

/** Values that break run-folder readers: huge, negative, fractional, wrongly typed, paths outside. */
const JSON_LIES: unknown[] = [0, -1, 1.5, 1e9, 2 ** 31, 2 ** 53 + 2, 1e308, -1e308, '', 'x', '../outside', '../../..', '/', null, true, [], {}, [1e9], { step: 1e15 }];

/**
 * Rewrite one value anywhere in a JSON document (`text`), or add deeply nested brackets; a
 * document that does not parse comes back unchanged apart from the nesting.
 */
export function lieJsonText(rng: Rng, text: string): { text: string; how: string } {
  const nest = rng.nextInt(8) === 0;
  let doc: unknown;
  try { doc = JSON.parse(text); } catch { doc = undefined; }
  if (nest || doc === null || typeof doc !== 'object') {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    return { text: text.trimStart().startsWith('{') ? text.replace('{', `{"nested": ${deep},`) : deep, how: 'deeply nested brackets' };
  }
  const paths = jsonPaths(doc);
  if (paths.length === 0) return { text: JSON.stringify(pick(rng, JSON_LIES)), how: 'the document := a scalar' };
  const where = pick(rng, paths);
  let parent = doc as Record<string | number, unknown>;
  for (const k of where.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const value = pick(rng, JSON_LIES);
  const drop = rng.nextInt(10) === 0 && !Array.isArray(parent);
  if (drop) delete parent[where[where.length - 1]];
  else parent[where[where.length - 1]] = value;
  return { text: JSON.stringify(doc, null, 2), how: `${where.join('.')} ${drop ? 'deleted' : `:= ${JSON.stringify(value)}`}` };
}

/** A lie in a JSON file (run.json, sweep.json, run.lock). */
function lieJson(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; how: string } {
  const { text, how } = lieJsonText(rng, Buffer.from(bytes).toString('utf8'));
  return { bytes: new Uint8Array(Buffer.from(text)), how };
}

/** A lie in one line of a JSON-lines file (log.jsonl, eval.jsonl, probes.jsonl), or a line repeated with a huge step. */
function lieJsonl(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; how: string } {
  const lines = Buffer.from(bytes).toString('utf8').split('\n');
  const full = lines.map((l, i) => [l, i] as const).filter(([l]) => l.trim() !== '');
  if (full.length === 0) return lieJson(rng, bytes);
  const [line, i] = pick(rng, full);
  if (rng.nextInt(6) === 0) {
    const { text } = lieJsonText(rng, line);
    lines.splice(i + 1, 0, text.replace(/\s*\n\s*/g, ''));
    return { bytes: new Uint8Array(Buffer.from(lines.join('\n'))), how: `line ${i + 1} repeated with a lie` };
  }
  const { text, how } = lieJsonText(rng, line);
  lines[i] = text.replace(/\s*\n\s*/g, '');
  return { bytes: new Uint8Array(Buffer.from(lines.join('\n'))), how: `line ${i + 1}: ${how}` };
}

/**
 * The run-folder seeds: `files` maps each target's fuzzed file to the valid bytes of it, read from
 * the tiny folders fuzz-targets.ts builds.
 */
export function folderSeeds(files: { sweepJson: Uint8Array; runJson: Uint8Array; evalJsonl: Uint8Array; logJsonl: Uint8Array; idRunJson: Uint8Array; probesJsonl: Uint8Array; lock: Uint8Array }): FuzzSeed[] {
  return ([
    { name: 'sweep.json (status)', target: 'sweep-status', ext: 'sweep.json', bytes: files.sweepJson, lie: lieJson },
    { name: 'sweep.json (status json)', target: 'sweep-status-json', ext: 'sweep.json', bytes: files.sweepJson, lie: lieJson },
    { name: 'train run.json (compare)', target: 'compare', ext: 'run.json', bytes: files.runJson, lie: lieJson },
    { name: 'train eval.jsonl (compare)', target: 'compare', ext: 'eval.jsonl', bytes: files.evalJsonl, lie: lieJsonl },
    { name: 'train log.jsonl (compare)', target: 'compare', ext: 'log.jsonl', bytes: files.logJsonl, lie: lieJsonl },
    { name: 'intrinsic-dim run.json (resume)', target: 'intrinsic-dim', ext: 'run.json', bytes: files.idRunJson, lie: lieJson },
    { name: 'intrinsic-dim probes.jsonl (resume)', target: 'intrinsic-dim', ext: 'probes.jsonl', bytes: files.probesJsonl, lie: lieJsonl },
    { name: 'run.lock (train resume)', target: 'train-lock', ext: 'run.lock', bytes: files.lock, lie: lieJson },
  ] as const).map((s) => ({ ...s, share: 1 }));
}

// ------------------------------------------------------------------ seeds

/** The valid files the fuzz cases start from; written once into `dir`. */
export function buildSeeds(dir: string, configPath: string): FuzzSeed[] {
  const g = (rows: number, cols: number, seed: number) => gaussianMatrix(rows, cols, seed).data;
  const seeds: FuzzSeed[] = [];
  const add = (name: string, ext: string, bytes: Uint8Array, lie: FuzzSeed['lie'], target: FuzzTargetName = 'measure') =>
    seeds.push({ name, ext, bytes, lie, target, share: 2 });

  add('npy-2d-f32', '.npy', readBack(dir, 'a.npy', (p) => writeNpy(p, Float32Array.from(g(24, 5, 1)), [24, 5])), lieNpy);
  add('npy-3d-f64', '.npy', readBack(dir, 'b.npy', (p) => writeNpy(p, g(3 * 16, 4, 2), [3, 16, 4])), lieNpy);
  add('npz-stored', '.npz', readBack(dir, 'c.npz', (p) => writeNpz(p, [
    { name: 'arr_0', data: Float32Array.from(g(20, 4, 3)), shape: [20, 4] },
    { name: 'arr_1', data: g(20, 4, 4), shape: [20, 4] },
  ])), lieZip);
  add('npz-deflated', '.npz', readBack(dir, 'd.npz', (p) => writeNpz(p, [{ name: 'h', data: Float32Array.from(g(2 * 18, 4, 5)), shape: [2, 18, 4] }], { compressed: true })), lieZip);
  add('safetensors-3d', '.safetensors', readBack(dir, 'e.safetensors', (p) =>
    writeSafetensors(p, [{ name: 'hidden_states', dtype: 'F32', shape: [2, 20, 4], data: Float32Array.from(g(40, 4, 6)) }], { model: 'fuzz' })), lieSafetensors);
  add('safetensors-2d-layers', '.safetensors', readBack(dir, 'f.safetensors', (p) => writeSafetensors(p, [0, 1, 2].map((l) => (
    { name: `hidden_states.${l}`, dtype: l === 1 ? 'F64' as const : 'F32' as const, shape: [16, 3], data: l === 1 ? g(16, 3, 7 + l) : Float32Array.from(g(16, 3, 7 + l)) })))), lieSafetensors);
  add('arrow-file', '.arrow', readBack(dir, 'g.arrow', (p) => {
    const w = createArrowWriter(p, 4, { model: 'fuzz' });
    for (let b = 0; b < 3; b++) {
      const n = 12;
      w.write({
        layer: Array.from({ length: n }, (_, i) => i % 2), example: Array.from({ length: n }, (_, i) => b * n + i),
        position: new Array<number>(n).fill(0), tokenId: new Array<number>(n).fill(101), vectors: Float32Array.from(g(n, 4, 20 + b)),
      });
    }
    w.close();
  }), lieArrow);
  const type = new FixedSizeList(4, new Field('item', new Float32()));
  const streamTable = (n: number, seed: number) => new Table({
    layer: makeVector(Int16Array.from({ length: n }, (_, i) => i % 3)),
    vector: makeVector(makeData({ type, length: n, child: makeData({ type: new Float32(), length: n * 4, data: Float32Array.from(g(n, 4, seed)) }) })),
  });
  add('arrow-stream', '.ipc', tableToIPC(streamTable(15, 30).concat(streamTable(15, 31)), 'stream'), lieArrow);
  add('config-json', '.json', new Uint8Array(fs.readFileSync(configPath)), lieConfig, 'extract');
  return seeds;
}

// ------------------------------------------------------------------ generic corruptions

/** One seeded corruption of `seed`'s bytes; `how` says what was done, for the failure report. */
export function corrupt(rng: Rng, seed: FuzzSeed): { bytes: Uint8Array; how: string } {
  const src = seed.bytes;
  const n = src.byteLength;
  const at = () => rng.nextInt(n);
  const kind = rng.nextInt(100);
  if (kind < 18) {
    const out = src.slice();
    const flips: number[] = [];
    for (let k = 1 + rng.nextInt(4); k > 0; k--) {
      const i = at();
      out[i] ^= 1 << rng.nextInt(8);
      flips.push(i);
    }
    return { bytes: out, how: `bit flips at ${flips.join(', ')}` };
  }
  if (kind < 28) {
    const out = src.slice();
    const i = at(), len = 1 + rng.nextInt(8), v = pick(rng, [0x00, 0xff, 0x7f, 0x80, rng.nextInt(256)]);
    out.fill(v, i, Math.min(n, i + len));
    return { bytes: out, how: `${len} bytes at ${i} := 0x${v.toString(16)}` };
  }
  if (kind < 42) {
    const cut = rng.nextInt(2) === 0 ? at() : Math.max(0, n - 1 - rng.nextInt(Math.min(n, 64)));
    return { bytes: src.slice(0, cut), how: `truncated to ${cut} of ${n} bytes` };
  }
  if (kind < 54) {
    const i = at(), len = 1 + rng.nextInt(16);
    const extra = new Uint8Array(len);
    for (let k = 0; k < len; k++) extra[k] = rng.nextInt(4) === 0 ? 0xff : rng.nextInt(256);
    return { bytes: concat(src.subarray(0, i), extra, src.subarray(i)), how: `${len} bytes inserted at ${i}` };
  }
  if (kind < 66) {
    const i = at(), len = 1 + rng.nextInt(16);
    return { bytes: concat(src.subarray(0, i), src.subarray(Math.min(n, i + len))), how: `${len} bytes deleted at ${i}` };
  }
  if (kind < 76) return overwriteInt(rng, src, 4 * rng.nextInt(Math.max(1, Math.floor(n / 4))));
  return seed.lie(rng, src);
}
