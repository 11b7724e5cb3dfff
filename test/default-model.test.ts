/**
 * The embedded default: `npm start`'s command line (package.json's start script, run from source
 * with a small --limit) reports on the shipped pretraining checkpoints, random init to final, in
 * order; the shipped checkpoints are what data/default/README.md says (BertForMaskedLM folders,
 * weights and tokenizer only, step-0 the seeded init), and the report text is held out from the
 * pretraining corpus.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { repgeom } from './helpers/cli.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DEFAULT = path.join(ROOT, 'data', 'default');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-default-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The start script's arguments after `node dist/cli/main.js`. */
function startArgs(): string[] {
  const start: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start;
  const words = start.split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ['node', 'dist/cli/main.js'], 'the start script runs the built CLI');
  return words.slice(2);
}

const shipped = () => fs.readdirSync(path.join(DEFAULT, 'checkpoints')).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));

test('the shipped checkpoints run from step-0 to the final step; weights, config and tokenizer only', () => {
  const names = shipped();
  assert.ok(names.length >= 3 && names.length <= 5, `${names.length} checkpoints`);
  assert.equal(names[0], 'step-0');
  const info = JSON.parse(fs.readFileSync(path.join(DEFAULT, 'pretraining.json'), 'utf8'));
  assert.equal(names.at(-1), `step-${info.steps}`);
  assert.ok(info.meanLossLast50 < info.meanLossFirst50 - 1, 'the MLM loss fell during pretraining');
  for (const n of names) {
    assert.deepEqual(fs.readdirSync(path.join(DEFAULT, 'checkpoints', n)).sort(),
      ['config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.txt']);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(DEFAULT, 'checkpoints', n, 'config.json'), 'utf8')).architectures, ['BertForMaskedLM']);
  }
});

test('the report text is held out from the pretraining corpus', () => {
  const corpus = new Set(fs.readFileSync(path.join(DEFAULT, 'corpus.txt'), 'utf8').trim().split('\n'));
  const text = fs.readFileSync(path.join(DEFAULT, 'text.txt'), 'utf8').trim().split('\n');
  assert.ok(text.length >= 100);
  const seen = text.filter((l) => corpus.has(l));
  // Short sentences can recur in the novel; nearly all report lines are unseen.
  assert.ok(seen.length < text.length / 50, `${seen.length} report lines are in the corpus`);
});

test("npm start's command line reports on the shipped checkpoints in order", () => {
  const args = startArgs();
  const out = path.join(dir, 'report');
  const outAt = args.indexOf('--out');
  assert.ok(outAt > 0);
  args.splice(outAt, 2, '--out', out);
  // The script's paths are relative to the repository root (npm runs it there).
  for (const flag of ['--model', '--data']) {
    const i = args.indexOf(flag);
    args[i + 1] = args[i + 1].split(',').map((p) => path.resolve(ROOT, p)).join(',');
  }
  const r = repgeom([...args, '--limit', '12', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
  assert.deepEqual(report.checkpoints.map((c: { name: string }) => c.name), shipped());
  assert.deepEqual(report.checkpoints.map((c: { path: string }) => path.resolve(ROOT, c.path)), shipped().map((n) => path.join(DEFAULT, 'checkpoints', n)));
  // Every checkpoint has its five hidden states (embeddings + 4 layers) in the table.
  for (const n of shipped()) assert.equal(report.rows.filter((row: { checkpoint: string }) => row.checkpoint === n).length, 5);
});
