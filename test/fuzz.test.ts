/**
 * Fuzzing the file readers through the CLI: seeded corruptions of small valid files of every
 * input format (npy, npz, safetensors, Arrow IPC file and stream, a model's config.json) must each
 * end, within a time and memory bound, with exit 0 or with exit 2 and exactly one `repgeom: ` line
 * (no stack trace), leave no half-written output or temporary file, and leave the input unchanged.
 *
 * REPGEOM_FUZZ_CASES=N runs N cases (default 200), REPGEOM_FUZZ_SEED=S picks the corruptions
 * (default 1), REPGEOM_FUZZ_ONLY=C runs case C alone. A failure names seed and case to rerun it.
 * REPGEOM_FUZZ_METRICS picks what `measure` computes (default all, so the corrupted values reach
 * every metric, the eigenvalue-based ones included; e.g. cosine for a faster pass over the readers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../src/backend/rng.js';
import { openArrowStates } from '../src/io/arrow.js';
import { buildSeeds, corrupt, type FuzzSeed } from './helpers/fuzz-inputs.js';
import { SHARED } from './helpers/fixtures.js';

const CASES = Number(process.env.REPGEOM_FUZZ_CASES ?? 200);
const SEED = Number(process.env.REPGEOM_FUZZ_SEED ?? 1);
const ONLY = process.env.REPGEOM_FUZZ_ONLY === undefined ? undefined : Number(process.env.REPGEOM_FUZZ_ONLY);
const METRICS = process.env.REPGEOM_FUZZ_METRICS ?? 'all';
const PARALLEL = 2;
/** Generous hang guard: a case normally takes about a second. */
const TIME_LIMIT_MS = 20_000;
/** Peak resident memory of one CLI run on these KB-sized inputs (node + tfjs wasm is ~200 MB). */
const MAX_RSS_MB = 600;

const MAIN = path.resolve(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
const RSS = path.resolve(import.meta.dirname, 'helpers', 'record-rss.mjs');
const TINY = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
const MODEL_FILES = ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-fuzz-'));
const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

interface Outcome { status: number | null; stderr: string; ms: number; rssMb: number; timedOut: boolean }

function runCli(args: string[], rssFile: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', RSS, MAIN, ...args], {
      env: { ...process.env, REPGEOM_RSS_FILE: rssFile }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < 20_000) stderr += d.toString(); });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, TIME_LIMIT_MS);
    child.on('close', (status) => {
      clearTimeout(timer);
      const rssKb = fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) : NaN;
      resolve({ status, stderr, ms: Date.now() - started, rssMb: rssKb / 1024, timedOut });
    });
  });
}

/** Set up case `c` in its own folder and run it; returns the problems found (empty: the case passed). */
async function runCase(c: number, seeds: FuzzSeed[], stats: { exits: Map<string, number>; worstMs: number; worstRss: number }): Promise<string[]> {
  const rng = new Rng(SEED * 1_000_003 + c);
  const seed = seeds[c % seeds.length];
  const { bytes, how } = corrupt(rng, seed);
  const dir = path.join(tmp, `case-${c}`);
  fs.mkdirSync(dir);
  let input: string, out: string, args: string[];
  if (seed.command === 'extract') {
    const model = path.join(dir, 'model');
    fs.mkdirSync(model);
    for (const f of MODEL_FILES) fs.symlinkSync(path.join(TINY, f), path.join(model, f));
    input = path.join(model, 'config.json');
    const data = path.join(dir, 'data.txt');
    fs.writeFileSync(data, 'the cat sat on the mat\na second example\n');
    out = path.join(dir, 'states.arrow');
    args = ['extract', '--model', model, '--data', data, '--limit', '2', '--tokens', 'cls', '--out', out, '--quiet'];
  } else {
    input = path.join(dir, `input${seed.ext}`);
    out = path.join(dir, 'out.json');
    args = ['measure', input, '--metrics', METRICS, '--out', out, '--quiet'];
  }
  fs.writeFileSync(input, bytes);
  const before = sha(input);
  const r = await runCli(args, path.join(dir, 'rss.txt'));
  const problems: string[] = [];
  const key = r.timedOut ? 'timeout' : String(r.status);
  stats.exits.set(key, (stats.exits.get(key) ?? 0) + 1);
  stats.worstMs = Math.max(stats.worstMs, r.ms);
  if (Number.isFinite(r.rssMb)) stats.worstRss = Math.max(stats.worstRss, r.rssMb);
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  if (r.timedOut) problems.push(`no end within ${TIME_LIMIT_MS / 1000} s (killed)`);
  else if (r.status === 2) {
    if (lines.length !== 1 || !lines[0].startsWith('repgeom: ')) problems.push(`exit 2 but stderr is not one 'repgeom: ' line: ${r.stderr.slice(0, 600)}`);
  } else if (r.status !== 0) problems.push(`exit ${r.status}: ${r.stderr.slice(0, 800)}`);
  if (/^\s+at /m.test(r.stderr)) problems.push('stack trace on stderr');
  if (!r.timedOut && !(r.rssMb <= MAX_RSS_MB)) problems.push(`peak memory ${r.rssMb.toFixed(0)} MB > ${MAX_RSS_MB} MB`);
  if (sha(input) !== before) problems.push('the input file changed');
  const leftovers = fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));
  if (leftovers.length) problems.push(`temporary files left: ${leftovers.join(', ')}`);
  if (fs.existsSync(out)) {
    if (seed.command === 'measure') {
      try { JSON.parse(fs.readFileSync(out, 'utf8')); } catch { problems.push('out.json is not complete JSON'); }
    } else {
      try { await openArrowStates(out); } catch (e) { problems.push(`states.arrow is not readable: ${(e as Error).message}`); }
    }
  } else if (r.status === 0) problems.push('exit 0 but no output file');
  if (problems.length === 0) fs.rmSync(dir, { recursive: true, force: true });
  return problems.map((p) => `seed ${SEED} case ${c} (${seed.name}: ${how}): ${p} [rerun: REPGEOM_FUZZ_SEED=${SEED} REPGEOM_FUZZ_ONLY=${c}; files in ${dir}]`);
}

test(`fuzz: ${ONLY === undefined ? CASES : 1} corrupted inputs end with exit 0 or one 'repgeom:' line, in bounded time and memory`, { timeout: 60 * 60_000 }, async (t) => {
  const seedsDir = path.join(tmp, 'seeds');
  fs.mkdirSync(seedsDir);
  const seeds = buildSeeds(seedsDir, path.join(TINY, 'config.json'));
  const cases = ONLY === undefined ? Array.from({ length: CASES }, (_, c) => c) : [ONLY];
  const stats = { exits: new Map<string, number>(), worstMs: 0, worstRss: 0 };
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++];
      failures.push(...(await runCase(c, seeds, stats)));
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const summary = `fuzz seed ${SEED}: ${cases.length} cases; exits ${[...stats.exits].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}; ` +
    `worst time ${(stats.worstMs / 1000).toFixed(1)} s; worst peak memory ${stats.worstRss.toFixed(0)} MB; ${failures.length} failures`;
  t.diagnostic(summary);
  console.log(summary);
  for (const f of failures) console.log(f);
  assert.deepEqual(failures, []);
  if (failures.length === 0) fs.rmSync(tmp, { recursive: true, force: true });
});
