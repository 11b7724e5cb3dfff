/**
 * Fuzzing the file readers through the CLI: seeded corruptions of small valid files of every
 * input format (npy, npz, safetensors, Arrow IPC file and stream, a model's config.json; a sweep's
 * sweep.json through `sweep --status`; a train run's run.json, eval.jsonl and log.jsonl through
 * `compare`; an intrinsic-dim folder's run.json and probes.jsonl through its resume; a run.lock
 * through `train` resuming a finished run) must each end, within a time and memory bound, with
 * exit 0 or with exit 2 and exactly one `repgeom: ` line (no stack trace), leave no half-written
 * output or temporary file, and leave the input unchanged (fuzz-targets.ts says, per target,
 * which file is fuzzed, which command runs and what it must leave).
 *
 * REPGEOM_FUZZ_CASES=N runs N cases (default 200), REPGEOM_FUZZ_SEED=S picks the corruptions
 * (default 1), REPGEOM_FUZZ_ONLY=C runs case C alone. A failure names seed and case to rerun it.
 * REPGEOM_FUZZ_METRICS picks what `measure` computes (default all, so the corrupted values reach
 * every metric, the eigenvalue-based ones included; e.g. cosine for a faster pass over the readers).
 * REPGEOM_FUZZ_TARGETS=a,b keeps the seeds of those targets only (measure, extract, sweep-status,
 * sweep-status-json, compare, intrinsic-dim, train-lock); a rerun needs the same value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../src/backend/rng.js';
import { buildSeeds, corrupt, type FuzzSeed } from './helpers/fuzz-inputs.js';
import { buildFolders, fuzzTargets, temporaries, TINY, type FuzzTarget } from './helpers/fuzz-targets.js';

const CASES = Number(process.env.REPGEOM_FUZZ_CASES ?? 200);
const SEED = Number(process.env.REPGEOM_FUZZ_SEED ?? 1);
const ONLY = process.env.REPGEOM_FUZZ_ONLY === undefined ? undefined : Number(process.env.REPGEOM_FUZZ_ONLY);
const METRICS = process.env.REPGEOM_FUZZ_METRICS ?? 'all';
const TARGETS = process.env.REPGEOM_FUZZ_TARGETS?.split(',');
const PARALLEL = 2;
/** The `how` of a run on a seed's own bytes: its target's setup must then end with exit 0. */
const VALID = 'the valid seed';
/** Generous hang guard: a case normally takes about a second. */
const TIME_LIMIT_MS = 20_000;
/** Peak resident memory of one CLI run on these KB-sized inputs (node + tfjs wasm is ~200 MB). */
const MAX_RSS_MB = 600;

const MAIN = path.resolve(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
const RSS = path.resolve(import.meta.dirname, 'helpers', 'record-rss.mjs');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-fuzz-'));
const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

interface Stats { exits: Map<string, number>; perTarget: Map<string, number>; worstMs: number; worstRss: number }

interface Outcome { status: number | null; stdout: string; stderr: string; ms: number; rssMb: number; timedOut: boolean }

function runCli(args: string[], rssFile: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', RSS, MAIN, ...args], {
      env: { ...process.env, REPGEOM_RSS_FILE: rssFile }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '', stdout = '';
    child.stdout.on('data', (d: Buffer) => { if (stdout.length < 200_000) stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < 20_000) stderr += d.toString(); });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, TIME_LIMIT_MS);
    child.on('close', (status) => {
      clearTimeout(timer);
      const rssKb = fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) : NaN;
      resolve({ status, stdout, stderr, ms: Date.now() - started, rssMb: rssKb / 1024, timedOut });
    });
  });
}

/** Set up case `c` in its own folder and run it; returns the problems found (empty: the case passed). */
async function runCase(c: number, schedule: FuzzSeed[], targets: Record<string, FuzzTarget>, stats: Stats): Promise<string[]> {
  const rng = new Rng(SEED * 1_000_003 + c);
  const seed = schedule[c % schedule.length];
  const { bytes, how } = corrupt(rng, seed);
  return runOn(`case-${c}`, seed, bytes, how, targets, stats);
}

/** Run `seed`'s target on `bytes` in the folder `name`; returns the problems found (empty: passed). */
async function runOn(name: string, seed: FuzzSeed, bytes: Uint8Array, how: string, targets: Record<string, FuzzTarget>, stats: Stats): Promise<string[]> {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const fc = targets[seed.target](dir, seed);
  const input = fc.input;
  const args = fc.args;
  fs.writeFileSync(input, bytes);
  const before = sha(input);
  const r = await runCli(args, path.join(dir, 'rss.txt'));
  const problems: string[] = [];
  const key = r.timedOut ? 'timeout' : String(r.status);
  stats.exits.set(key, (stats.exits.get(key) ?? 0) + 1);
  const targetKey = `${seed.target} ${key}`;
  stats.perTarget.set(targetKey, (stats.perTarget.get(targetKey) ?? 0) + 1);
  stats.worstMs = Math.max(stats.worstMs, r.ms);
  if (Number.isFinite(r.rssMb)) stats.worstRss = Math.max(stats.worstRss, r.rssMb);
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  if (r.timedOut) problems.push(`no end within ${TIME_LIMIT_MS / 1000} s (killed)`);
  else if (r.status === 2) {
    if (lines.length !== 1 || !lines[0].startsWith('repgeom: ')) problems.push(`exit 2 but stderr is not one 'repgeom: ' line: ${r.stderr.slice(0, 600)}`);
  } else if (r.status !== 0) problems.push(`exit ${r.status}: ${r.stderr.slice(0, 800)}`);
  if (/^\s+at /m.test(r.stderr)) problems.push('stack trace on stderr');
  if (!r.timedOut && !(r.rssMb <= MAX_RSS_MB)) problems.push(`peak memory ${r.rssMb.toFixed(0)} MB > ${MAX_RSS_MB} MB`);
  if (fc.keepsInput(r.status) && (!fs.existsSync(input) || sha(input) !== before)) problems.push(`the input file changed (${path.relative(dir, input)})`);
  const leftovers = temporaries(dir);
  if (leftovers.length) problems.push(`temporary files left: ${leftovers.join(', ')}`);
  if (!r.timedOut) problems.push(...(await fc.check(r.status, r.stdout)));
  if (problems.length === 0) fs.rmSync(dir, { recursive: true, force: true });
  if (how === VALID && r.status !== 0) problems.push(`the valid seed ends with exit ${r.status}: ${r.stderr.slice(0, 400)}`);
  return problems.map((p) => `seed ${SEED} ${name} (${seed.name}: ${how}): ${p} [rerun: REPGEOM_FUZZ_SEED=${SEED} REPGEOM_FUZZ_ONLY=${name.replace('case-', '')}${TARGETS ? ` REPGEOM_FUZZ_TARGETS=${TARGETS.join(',')}` : ''}; files in ${dir}]`);
}

test(`fuzz: ${ONLY === undefined ? CASES : 1} corrupted inputs end with exit 0 or one 'repgeom:' line, in bounded time and memory`, { timeout: 60 * 60_000 }, async (t) => {
  const seedsDir = path.join(tmp, 'seeds');
  fs.mkdirSync(seedsDir);
  const built = await buildFolders(seedsDir);
  const seeds = [...buildSeeds(seedsDir, path.join(TINY, 'config.json')), ...built.seeds].filter((s) => TARGETS === undefined || TARGETS.includes(s.target));
  assert.ok(seeds.length > 0, `REPGEOM_FUZZ_TARGETS=${TARGETS}: no such target`);
  const targets = fuzzTargets(built.folders, METRICS);
  // Case c fuzzes schedule[c mod its length]: each seed `share` times, interleaved.
  const schedule = Array.from({ length: Math.max(...seeds.map((s) => s.share)) }, (_, round) => seeds.filter((s) => s.share > round)).flat();
  const cases = ONLY === undefined ? Array.from({ length: CASES }, (_, c) => c) : [ONLY];
  const stats: Stats = { exits: new Map(), perTarget: new Map(), worstMs: 0, worstRss: 0 };
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++];
      failures.push(...(await runCase(c, schedule, targets, stats)));
    }
  };
  // The run-folder targets' setups on their valid seeds first: each must pass (exit 0, complete
  // output), so a setup that fails on every input cannot pass as a reader's one-line error.
  const valid = ONLY === undefined ? seeds.filter((s) => s.target !== 'measure' && s.target !== 'extract') : [];
  for (let i = 0; i < valid.length; i += PARALLEL) {
    const batch = valid.slice(i, i + PARALLEL).map((s, k) => runOn(`valid-${i + k}`, s, s.bytes, VALID, targets, { exits: new Map(), perTarget: new Map(), worstMs: 0, worstRss: 0 }));
    for (const problems of await Promise.all(batch)) failures.push(...problems);
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const summary = `fuzz seed ${SEED}: ${cases.length} cases; exits ${[...stats.exits].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}; ` +
    `per target ${[...stats.perTarget].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}; worst time ${(stats.worstMs / 1000).toFixed(1)} s; worst peak memory ${stats.worstRss.toFixed(0)} MB; ${failures.length} failures`;
  t.diagnostic(summary);
  console.log(summary);
  for (const f of failures) console.log(f);
  assert.deepEqual(failures, []);
  if (failures.length === 0) fs.rmSync(tmp, { recursive: true, force: true });
});
