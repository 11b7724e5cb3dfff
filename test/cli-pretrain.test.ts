/**
 * `repgeom pretrain` end to end on a tiny BERT config with a small vocabulary and a small corpus
 * (seconds): the run folder's contract (../shared/tools/check-output-folder.py), the MLM loss
 * falls, checkpoints from step-0 (the seeded init) to final load in `repgeom extract`, the corpus
 * formats agree, exact resume after SIGKILL and Ctrl-C (bitwise the same final weights and log),
 * and every bad input. The masking itself (80/10/10, specials never chosen) is checked on the
 * collator's own output.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { expectUserError, repgeom, interruptAtCheckpoint } from './helpers/cli.js';
import { SHARED } from './helpers/fixtures.js';
import { loadTokenizer } from '../src/models/tokenizer.js';
import { maskTokens } from '../src/train/mlm-masking.js';

const CHECKER = path.resolve(SHARED, 'tools', 'check-output-folder.py');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-pretrain-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const at = (...p: string[]) => path.join(dir, ...p);

// A grammar with a learnable pattern: the MLM loss falls well below the unigram entropy.
const WORDS = ['the', 'a', 'cat', 'dog', 'bird', 'sat', 'ran', 'on', 'under', 'mat', 'tree', 'house', 'big', 'small', 'red', 'blue'];
const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const CHARS = [...new Set(WORDS.join(''))].sort();
const VOCAB = [...SPECIALS, ...CHARS, ...CHARS.map((c) => `##${c}`), ...WORDS];
const lines = Array.from({ length: 160 }, (_, i) => {
  const pick = (xs: string[], k: number) => xs[(i * k + Math.floor(i / xs.length)) % xs.length];
  return `the ${pick(['big', 'small', 'red', 'blue'], 1)} ${pick(['cat', 'dog', 'bird'], 2)} ${pick(['sat', 'ran'], 3)} ${pick(['on', 'under'], 5)} the ${pick(['mat', 'tree', 'house'], 7)}`;
});
const CONFIG = {
  architectures: ['BertForMaskedLM'], model_type: 'bert', vocab_size: VOCAB.length, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2,
  intermediate_size: 64, hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 32,
  type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0,
};

before(() => {
  fs.mkdirSync(at('tok'));
  fs.writeFileSync(at('tok', 'vocab.txt'), `${VOCAB.join('\n')}\n`);
  fs.writeFileSync(at('tok', 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, tokenizer_class: 'BertTokenizer' }));
  fs.writeFileSync(at('tok', 'special_tokens_map.json'), JSON.stringify({ cls_token: '[CLS]', mask_token: '[MASK]', pad_token: '[PAD]', sep_token: '[SEP]', unk_token: '[UNK]' }));
  fs.writeFileSync(at('config.json'), JSON.stringify(CONFIG));
  fs.writeFileSync(at('corpus.txt'), `${lines.join('\n')}\n\n`);
  fs.writeFileSync(at('corpus.jsonl'), `${lines.map((text) => JSON.stringify({ text })).join('\n')}\n`);
  fs.mkdirSync(at('corpus-dir'));
  fs.writeFileSync(at('corpus-dir', 'part-2.txt'), `${lines.slice(80).join('\n')}\n`);
  fs.writeFileSync(at('corpus-dir', 'part-1.txt'), `${lines.slice(0, 80).join('\n')}\n`);
  fs.writeFileSync(at('empty.txt'), '\n  \n');
});

// 160 lines, batch 16: 10 steps per epoch; 120 steps = 12 epochs; checkpoints step-0, 40, 80 and final.
const base = (over: Record<string, string | null> = {}) => ['pretrain', ...Object.entries({
  config: at('config.json'), tokenizer: at('tok'), data: at('corpus.txt'),
  steps: '120', 'batch-size': '16', 'max-length': '16', lr: '2e-3', 'save-every': '40', seed: '7', ...over,
}).flatMap(([k, v]) => (v === null ? [] : [`--${k}`, v]))];
const run = (out: string, over: Record<string, string | null> = {}) => repgeom([...base(over), '--out', out]);
const read = (p: string) => fs.readFileSync(p);
const jsonl = (p: string) => fs.readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function checkFolder(out: string): void {
  const r = spawnSync('python3', [CHECKER, 'pretrain', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

const interruptAt = (out: string, checkpoint: string, signal: NodeJS.Signals) => interruptAtCheckpoint([...base(), '--out', out], out, checkpoint, signal);

const A = at('a');

describe('pretrain: an uninterrupted run from a config', () => {
  before(() => {
    const r = run(A);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /finished .*120 steps/);
  });

  test('the folder follows the contract; checkpoints step-0, 40, 80 and final are BertForMaskedLM folders', () => {
    checkFolder(A);
    assert.deepEqual(fs.readdirSync(at('a', 'checkpoints')).sort(), ['step-0', 'step-40', 'step-80']);
    for (const d of ['checkpoints/step-0', 'checkpoints/step-40', 'final']) {
      const config = JSON.parse(fs.readFileSync(path.join(A, d, 'config.json'), 'utf8'));
      assert.deepEqual(config.architectures, ['BertForMaskedLM']);
      assert.equal(config.vocab_size, VOCAB.length);
      assert.ok(fs.existsSync(path.join(A, d, 'vocab.txt')));
    }
    const run = JSON.parse(fs.readFileSync(path.join(A, 'run.json'), 'utf8'));
    assert.equal(run.command, 'pretrain');
    assert.equal(run.options.maskProb, 0.15);
    assert.equal(run.options.seed, 7);
  });

  test('log.jsonl: one line per step, the linear schedule, ~15% of tokens masked, and the loss falls', () => {
    const log = jsonl(path.join(A, 'log.jsonl'));
    assert.deepEqual(log.map((r) => r.step), Array.from({ length: 120 }, (_, i) => i + 1));
    log.forEach((r, i) => assert.ok(Math.abs(r.lr - 2e-3 * (1 - i / 120)) < 1e-12, `lr at step ${r.step}`));
    // 16 rows × 7 content tokens (the words are whole tokens): 112 maskable per batch, 15% ≈ 16.8.
    const masked = mean(log.map((r) => r.maskedTokens));
    assert.ok(masked > 13 && masked < 21, `mean masked tokens per batch ${masked}`);
    const first = mean(log.slice(0, 10).map((r) => r.loss)), last = mean(log.slice(-20).map((r) => r.loss));
    // From near ln|V| = ln(53) ≈ 4.0 at the start (3.6 over the first 10 steps) to about 1.3 over the
    // last 20 (the grammar's slots hold 2–4 words each, so ln 2 – ln 4 is the floor for most masks).
    assert.ok(first > 3, `first losses ${first}`);
    assert.ok(last < 1.6, `last losses ${last} (first ${first})`);
  });

  test('the checkpoints load in `repgeom extract`', () => {
    for (const d of ['checkpoints/step-0', 'final']) {
      const out = at(`states-${d.replace('/', '-')}.arrow`);
      const r = repgeom(['extract', '--model', path.join(A, d), '--data', at('corpus.txt'), '--task', 'text', '--limit', '8', '--max-length', '16', '--out', out, '--quiet']);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(fs.statSync(out).size > 0);
    }
  });

  test('the same command on the finished run exits 0 and says so', () => {
    const r = run(A);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /the run is finished \(120 steps\)/);
  });

  test('the same corpus as .jsonl or as a folder of .txt files gives the same weights', () => {
    const outs = ['corpus.txt', 'corpus.jsonl', 'corpus-dir'].map((data, i) => {
      const out = at(`formats-${i}`);
      const r = repgeom([...base({ data: at(data), steps: '6', 'save-every': '100' }), '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      return read(path.join(out, 'final', 'model.safetensors'));
    });
    assert.ok(outs[0].equals(outs[1]), '.jsonl differs from .txt');
    assert.ok(outs[0].equals(outs[2]), 'the folder differs from .txt');
  });

  test('pretraining continues from a checkpoint (--model)', () => {
    const out = at('from-model');
    const r = repgeom(['pretrain', '--model', path.join(A, 'final'), '--data', at('corpus.txt'), '--steps', '5', '--batch-size', '16', '--max-length', '16', '--out', out, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    checkFolder(out);
    assert.ok(read(path.join(out, 'checkpoints', 'step-0', 'model.safetensors')).equals(read(path.join(A, 'final', 'model.safetensors'))), 'step-0 is the starting checkpoint');
    // A trained model: its loss starts where the first run ended, far below ln|V|.
    assert.ok(mean(jsonl(path.join(out, 'log.jsonl')).map((l) => l.loss)) < 2);
  });

  test('SIGKILL mid-run, then the same command: bitwise the same final weights and log', async () => {
    const B = at('b');
    const killed = await interruptAt(B, 'step-40', 'SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(!fs.existsSync(path.join(B, 'final')), 'killed before the end');
    const r = run(B);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /resuming .* from .*step-\d+ \(step \d+ of 120\)/);
    checkFolder(B);
    for (const f of ['final/model.safetensors', 'final/optimizer.safetensors', 'log.jsonl', 'checkpoints/step-80/model.safetensors']) {
      assert.ok(read(path.join(A, f)).equals(read(path.join(B, f))), `${f} differs from the uninterrupted run's`);
    }
  });

  test('Ctrl-C saves a checkpoint and stops; the same command finishes as an uninterrupted run', async () => {
    const C = at('c');
    const stopped = await interruptAt(C, 'step-0', 'SIGINT');
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /stopped at step (\d+) of 120; checkpoint saved/);
    const r = run(C);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(read(path.join(A, 'final/model.safetensors')).equals(read(path.join(C, 'final/model.safetensors'))));
    assert.ok(read(path.join(A, 'log.jsonl')).equals(read(path.join(C, 'log.jsonl'))));
  });

  test('a run folder with other options is refused by name', () => {
    expectUserError(run(A, { 'mask-prob': '0.2' }), /--out .*other options: --mask-prob 0\.15 \(now 0\.2\)/);
  });

  test('one process at a time: a folder locked by a live process is refused; a train folder is not resumed as pretraining', async () => {
    const L = at('locked');
    fs.cpSync(A, L, { recursive: true });
    const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    const gone = new Promise((resolve) => sleeper.on('exit', resolve));
    try {
      fs.writeFileSync(path.join(L, 'run.lock'), JSON.stringify({ host: os.hostname(), pid: sleeper.pid, started: '2026-01-02T03:04:05.000Z' }));
      expectUserError(run(L), new RegExp(`--out .*locked: another repgeom process \\(pid ${sleeper.pid} on this host`));
    } finally {
      sleeper.kill('SIGKILL');
      await gone;
    }
    const r = run(L);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`repgeom: warning: --out .*locked: took over the lock run\\.lock of pid ${sleeper.pid}`));
    assert.ok(!fs.existsSync(path.join(L, 'run.lock')), 'the lock is released at the end');
    const T = at('as-train');
    fs.cpSync(A, T, { recursive: true });
    const runJson = JSON.parse(fs.readFileSync(path.join(T, 'run.json'), 'utf8'));
    fs.writeFileSync(path.join(T, 'run.json'), JSON.stringify({ ...runJson, command: 'train' }));
    expectUserError(run(T), /--out .*as-train holds a 'train' run, not a pretrain run; choose another --out/);
  });

  test('a damaged checkpoint is refused by name', () => {
    const D = at('d');
    fs.cpSync(A, D, { recursive: true });
    fs.rmSync(path.join(D, 'final'), { recursive: true });
    const file = path.join(D, 'checkpoints', 'step-80', 'model.safetensors');
    const bytes = read(file);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(file, bytes);
    expectUserError(run(D), /step-80\/model\.safetensors: the checkpoint file was changed or damaged/);
  });
});

describe('pretrain: masking as DataCollatorForLanguageModeling', () => {
  test('15% of the content tokens; of those 80% [MASK], 10% random, 10% unchanged; specials and padding never', () => {
    const tokenizer = loadTokenizer(at('tok'), { modelType: 'bert', modelVocabSize: VOCAB.length });
    const rows = Array.from({ length: 400 }, (_, i) => ({ text: lines[i % lines.length].split(' ').slice(0, 3 + (i % 5)).join(' ') }));
    const encoded = tokenizer.encodeBatch(rows, { maxLength: 16, padding: 'longest' });
    const maskId = VOCAB.indexOf('[MASK]');
    let content = 0, chosen = 0, masked = 0, unchanged = 0;
    for (let step = 0; step < 10; step++) {
      const b = maskTokens(encoded, { maskProb: 0.15, maskId, vocabSize: VOCAB.length, excludedIds: new Set([0, 1, 2, 3, 4]), seed: 1, step });
      for (let i = 0; i < b.labels!.length; i++) {
        const special = encoded.specialTokensMask[i] === 1 || encoded.attentionMask[i] === 0;
        if (!special) content++;
        if (b.labels![i] === -100) { assert.equal(b.inputIds[i], encoded.inputIds[i]); continue; }
        assert.ok(!special, 'a special or padding token was chosen');
        assert.equal(b.labels![i], encoded.inputIds[i]);
        chosen++;
        if (b.inputIds[i] === maskId) masked++;
        else if (b.inputIds[i] === encoded.inputIds[i]) unchanged++;
      }
    }
    // Binomial tolerances of about 4 standard deviations.
    assert.ok(Math.abs(chosen / content - 0.15) < 0.012, `chosen ${chosen / content}`);
    assert.ok(Math.abs(masked / chosen - 0.8) < 0.035, `[MASK] ${masked / chosen}`);
    // Unchanged: the 10% kept plus the random draws that hit the same token (1/|V| of 10%).
    assert.ok(Math.abs(unchanged / chosen - (0.1 + 0.1 / VOCAB.length)) < 0.027, `unchanged ${unchanged / chosen}`);
    const again = maskTokens(encoded, { maskProb: 0.15, maskId, vocabSize: VOCAB.length, excludedIds: new Set(), seed: 1, step: 3 });
    const same = maskTokens(encoded, { maskProb: 0.15, maskId, vocabSize: VOCAB.length, excludedIds: new Set(), seed: 1, step: 3 });
    const other = maskTokens(encoded, { maskProb: 0.15, maskId, vocabSize: VOCAB.length, excludedIds: new Set(), seed: 1, step: 4 });
    assert.deepEqual(again.labels, same.labels, 'the same (seed, step) masks the same tokens');
    assert.notDeepEqual(again.labels, other.labels, 'another step masks other tokens');
  });
});

describe('pretrain: bad input', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['an empty corpus', () => [...base({ data: at('empty.txt') }), '--out', at('x')], /--data .*empty\.txt: the corpus is empty/],
    ['neither --model nor --config', () => ['pretrain', '--data', at('corpus.txt'), '--out', at('x')], /pretrain needs --model .*or --config/],
    ['both --model and --config', () => ['pretrain', '--model', at('a', 'final'), '--config', at('config.json'), '--tokenizer', at('tok'), '--data', at('corpus.txt'), '--out', at('x')], /--model and --config both given/],
    ['--config without --tokenizer', () => ['pretrain', '--config', at('config.json'), '--data', at('corpus.txt'), '--out', at('x')], /--config needs --tokenizer/],
    ['--steps and --epochs both', () => [...base({ epochs: '2' }), '--out', at('x')], /--steps and --epochs both given/],
    ['--mask-prob 0', () => [...base({ 'mask-prob': '0' }), '--out', at('x')], /--mask-prob must be a number in \(0, 1\), got 0/],
    ['--mask-prob 1', () => [...base({ 'mask-prob': '1' }), '--out', at('x')], /--mask-prob must be a number in \(0, 1\), got 1/],
    ['--mask-prob 1.5', () => [...base({ 'mask-prob': '1.5' }), '--out', at('x')], /--mask-prob/],
    ['--max-length beyond the positions', () => [...base({ 'max-length': '64' }), '--out', at('x')], /--max-length 64 is larger than the model's 32 positions \(max_position_embeddings in .*config\.json\)/],
    ['a corpus of an unknown format', () => [...base({ data: at('config.json') }), '--out', at('x')], /--data .*config\.json: unknown corpus format '\.json'/],
    ['a missing corpus', () => [...base({ data: at('nope.txt') }), '--out', at('x')], /--data .*nope\.txt: no such file/],
  ];
  for (const [name, args, pattern] of cases) {
    test(name, () => {
      expectUserError(repgeom(args()), pattern);
      assert.ok(!fs.existsSync(at('x')), 'no run folder is left behind');
    });
  }
});
