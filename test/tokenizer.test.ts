/**
 * Tokenizers: exact parity with the PyTorch/Hugging Face reference inputs of tiny-bert-mlm through
 * both tokenizer.json and vocab.txt, and hand-made known answers for truncation, padding, the
 * special-token mask, BasicTokenizer/WordPiece details, a RoBERTa-style tokenizer.json, WordLevel
 * and BertProcessing files, and every load error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../src/errors.js';
import { loadTokenizer, type EncodedBatch, type TextExample, type Tokenizer } from '../src/models/tokenizer.js';
import { SHARED } from './helpers/fixtures.js';
import { readNpyInt32 } from '../src/io/npy.js';
import { throwsUser } from './helpers/errors.js';

const MODEL = path.resolve(SHARED, 'models', 'tiny-bert-mlm');
const REFERENCE = path.resolve(MODEL, 'reference');
const ROBERTA = path.resolve(import.meta.dirname, 'fixtures', 'tokenizer', 'tiny-roberta');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-tokenizer-'));

const bert = loadTokenizer(MODEL, { modelType: 'bert', modelVocabSize: 30522 });
const bertVocab = loadTokenizer(MODEL, { modelType: 'bert', modelVocabSize: 30522, prefer: 'vocab.txt' });
const BOTH: [string, Tokenizer][] = [['tokenizer.json', bert], ['vocab.txt', bertVocab]];

/** The reference input file: one example per line, a tab separating the two texts of a pair. */
function referenceExamples(name: string): TextExample[] {
  return fs.readFileSync(path.join(REFERENCE, `${name}.tsv`), 'utf8').split('\n').filter((l) => l.length > 0).map((line) => {
    const [text, textPair] = line.split('\t');
    return textPair === undefined ? { text } : { text, textPair };
  });
}

/** Row r as token strings, padding included. */
function rowTokens(t: Tokenizer, enc: EncodedBatch, r: number): string[] {
  return [...enc.inputIds.subarray(r * enc.seqLen, (r + 1) * enc.seqLen)].map((id) => t.idToToken(id));
}
const row = (a: Int32Array | Uint8Array, enc: EncodedBatch, r: number): number[] => [...a.subarray(r * enc.seqLen, (r + 1) * enc.seqLen)];


/** A model folder in the temp dir with the given files (objects are written as JSON). */
function folder(name: string, files: Record<string, string | object>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, file), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

for (const [source, tok] of BOTH) {
  for (const name of ['sst2_dev48', 'mrpc_dev16']) {
    test(`${source}: ${name} ids, attention mask and token types equal the Hugging Face reference exactly`, async () => {
      const enc = tok.encodeBatch(referenceExamples(name), { maxLength: 48 });
      for (const [suffix, actual] of [['input_ids', enc.inputIds], ['attention_mask', enc.attentionMask], ['token_type_ids', enc.tokenTypeIds]] as const) {
        const expected = await readNpyInt32(path.join(REFERENCE, `${name}.${suffix}.npy`));
        assert.deepEqual([enc.batch, enc.seqLen], expected.shape, `${suffix} shape`);
        assert.deepEqual(actual, expected.data, suffix);
      }
      for (let r = 0; r < enc.batch; r++) {
        const mask = row(enc.attentionMask, enc, r);
        assert.equal(enc.lengths[r], mask.reduce((a, b) => a + b, 0));
        // Special-token mask: 1 exactly at [CLS], [SEP] and padding.
        assert.deepEqual(row(enc.specialTokensMask, enc, r), rowTokens(tok, enc, r).map((t, i) => (mask[i] === 0 || t === '[CLS]' || t === '[SEP]' ? 1 : 0)));
      }
    });
  }
}

test('the reference batches: 48 single sentences untruncated, 11 of 16 MRPC pairs truncated to 48', () => {
  for (const [, tok] of BOTH) {
    assert.equal(tok.encodeBatch(referenceExamples('sst2_dev48'), { maxLength: 48 }).truncated, 0);
    const mrpc = tok.encodeBatch(referenceExamples('mrpc_dev16'), { maxLength: 48 });
    assert.equal(mrpc.truncated, 11);
    assert.ok(mrpc.lengths.every((n) => n <= 48));
  }
});

test('source, vocabSize, padId and idToToken of the BERT tokenizer', () => {
  for (const [source, tok] of BOTH) {
    assert.equal(tok.source, source);
    assert.equal(tok.vocabSize, 30522);
    assert.equal(tok.padId, 0);
    assert.equal(tok.idToToken(101), '[CLS]');
    assert.equal(tok.idToToken(7592), 'hello');
    assert.throws(() => tok.idToToken(30522), RangeError);
  }
  // prefer: 'tokenizer.json' is the default and is honoured explicitly too.
  assert.equal(loadTokenizer(MODEL, { modelType: 'bert', modelVocabSize: 30522, prefer: 'tokenizer.json' }).source, 'tokenizer.json');
});

test('longest-first truncation: a tie cuts the second segment first, the longer segment loses first', () => {
  const a6 = { text: 'a b c d e f' };
  for (const [, tok] of BOTH) {
    // budget 8 - 3 = 5 of 4 + 4: b c d | x y z w → remove w (tie → B), then d (A longer), then z (tie → B).
    let enc = tok.encodeBatch([{ text: 'a b c d', textPair: 'x y z w' }], { maxLength: 8 });
    assert.deepEqual(rowTokens(tok, enc, 0), ['[CLS]', 'a', 'b', 'c', '[SEP]', 'x', 'y', '[SEP]']);
    assert.deepEqual(row(enc.tokenTypeIds, enc, 0), [0, 0, 0, 0, 0, 1, 1, 1]);
    assert.equal(enc.truncated, 1);
    // 6 + 2 into 5: only the longer first segment loses.
    enc = tok.encodeBatch([{ ...a6, textPair: 'x y' }], { maxLength: 8 });
    assert.deepEqual(rowTokens(tok, enc, 0), ['[CLS]', 'a', 'b', 'c', '[SEP]', 'x', 'y', '[SEP]']);
    // 2 + 6 into 5: only the longer second segment loses.
    enc = tok.encodeBatch([{ text: 'x y', textPair: 'a b c d e f' }], { maxLength: 8 });
    assert.deepEqual(rowTokens(tok, enc, 0), ['[CLS]', 'x', 'y', '[SEP]', 'a', 'b', 'c', '[SEP]']);
    // 6 + 5 into 6: A is cut to 5 (as long as B), then B, A, B... → A keeps 3, B 3.
    enc = tok.encodeBatch([{ ...a6, textPair: 'v w x y z' }], { maxLength: 9 });
    assert.deepEqual(rowTokens(tok, enc, 0), ['[CLS]', 'a', 'b', 'c', '[SEP]', 'v', 'w', 'x', '[SEP]']);
    // 6 + 5 into 7 (odd): A keeps 4, B 3.
    enc = tok.encodeBatch([{ ...a6, textPair: 'v w x y z' }], { maxLength: 10 });
    assert.deepEqual(rowTokens(tok, enc, 0), ['[CLS]', 'a', 'b', 'c', 'd', '[SEP]', 'v', 'w', 'x', '[SEP]']);
    // A single sentence loses its end; one that fits exactly is not counted as truncated.
    enc = tok.encodeBatch([a6, { text: 'x y z' }], { maxLength: 5 });
    assert.deepEqual(rowTokens(tok, enc, 0), ['[CLS]', 'a', 'b', 'c', '[SEP]']);
    assert.deepEqual(rowTokens(tok, enc, 1), ['[CLS]', 'x', 'y', 'z', '[SEP]']);
    assert.equal(enc.truncated, 1);
    // Room for the special tokens only.
    enc = tok.encodeBatch([{ text: 'a b', textPair: 'c' }], { maxLength: 3 });
    assert.deepEqual(rowTokens(tok, enc, 0), ['[CLS]', '[SEP]', '[SEP]']);
    throwsUser(() => tok.encodeBatch([{ text: 'a', textPair: 'b' }], { maxLength: 2 }), /max length 2 is smaller than the 3 special tokens/);
    throwsUser(() => tok.encodeBatch([a6], { maxLength: 0 }), /max length must be a positive integer/);
  }
});

test("padding 'longest' and 'max_length', lengths and the special-token mask", () => {
  for (const [, tok] of BOTH) {
    const examples = [{ text: 'hello world' }, { text: 'a' }, { text: 'x', textPair: 'y' }];
    let enc = tok.encodeBatch(examples, { maxLength: 16 });
    assert.equal(enc.batch, 3);
    assert.equal(enc.seqLen, 5);
    assert.deepEqual([...enc.lengths], [4, 3, 5]);
    assert.deepEqual(rowTokens(tok, enc, 1), ['[CLS]', 'a', '[SEP]', '[PAD]', '[PAD]']);
    assert.deepEqual(row(enc.attentionMask, enc, 1), [1, 1, 1, 0, 0]);
    assert.deepEqual(row(enc.specialTokensMask, enc, 0), [1, 0, 0, 1, 1]);
    assert.deepEqual(row(enc.specialTokensMask, enc, 2), [1, 0, 1, 0, 1]);
    assert.deepEqual(row(enc.tokenTypeIds, enc, 2), [0, 0, 0, 1, 1]);
    enc = tok.encodeBatch(examples, { maxLength: 8, padding: 'max_length' });
    assert.equal(enc.seqLen, 8);
    assert.deepEqual(row(enc.inputIds, enc, 0), [101, 7592, 2088, 102, 0, 0, 0, 0]);
    assert.deepEqual(row(enc.attentionMask, enc, 0), [1, 1, 1, 1, 0, 0, 0, 0]);
    assert.deepEqual(row(enc.tokenTypeIds, enc, 0), [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(row(enc.specialTokensMask, enc, 0), [1, 0, 0, 1, 1, 1, 1, 1]);
    assert.equal(enc.truncated, 0);
    const empty = tok.encodeBatch([], { maxLength: 8 });
    assert.deepEqual([empty.batch, empty.seqLen, empty.inputIds.length], [0, 0, 0]);
  }
});

test('BasicTokenizer: lowercase, accents stripped, punctuation and CJK split, control characters dropped, special tokens kept', () => {
  const cases: [string, string[]][] = [
    ['Café NAÏVE', ['cafe', 'naive']],
    ['cafe\u0301', ['cafe']], // decomposed accent
    ['hello,world!', ['hello', ',', 'world', '!']],
    ['a$b', ['a', '$', 'b']], // $ is ASCII punctuation for BERT although Unicode calls it Sc
    ['日本a', ['日', '本', 'a']],
    ['a\u0000b\u200b\u00adc\td\u00a0e', ['abc', 'd', 'e']], // NUL, ZWSP, soft hyphen dropped; tab, NBSP are spaces
    ['[MASK] a [SEP]', ['[MASK]', 'a', '[SEP]']],
    ['[mask]', ['[', 'mask', ']']],
    ['  ', []],
  ];
  for (const [source, tok] of BOTH) {
    for (const [text, expected] of cases) {
      const enc = tok.encodeBatch([{ text }], { maxLength: 64 });
      assert.deepEqual(rowTokens(tok, enc, 0).slice(1, -1), expected, `${source}: ${JSON.stringify(text)}`);
    }
  }
});

test('vocab.txt WordPiece: ## continuation, unknown words, the 100-character limit, do_lower_case false, special_tokens_map', () => {
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'un', '##aff', '##able', 'a', 'Café', 'é', ',', '<x>'];
  const lower = folder('wp-lower', { 'vocab.txt': vocab.join('\n') + '\n' });
  let tok = loadTokenizer(lower, { modelType: 'bert', modelVocabSize: 13 });
  assert.equal(tok.source, 'vocab.txt');
  assert.equal(tok.vocabSize, 13);
  const tokens = (t: Tokenizer, text: string): string[] => rowTokens(t, t.encodeBatch([{ text }], { maxLength: 300 }), 0).slice(1, -1);
  assert.deepEqual(tokens(tok, 'unaffable'), ['un', '##aff', '##able']);
  assert.deepEqual(tokens(tok, 'UnAffABLE, a'), ['un', '##aff', '##able', ',', 'a']);
  assert.deepEqual(tokens(tok, 'unaffablex'), ['[UNK]']); // no full split → the whole word is [UNK]
  assert.deepEqual(tokens(tok, 'xyz a'), ['[UNK]', 'a']);
  assert.deepEqual(tokens(tok, 'aa'), ['[UNK]']); // 'a' then no '##a' in this vocab
  assert.deepEqual(tokens(tok, 'Café'), ['[UNK]']); // lowercased and stripped to 'cafe', not in this vocab

  // Cased: do_lower_case false keeps case and accents; special tokens from special_tokens_map.json.
  const cased = folder('wp-cased', {
    'vocab.txt': vocab.join('\r\n') + '\r\n', // CRLF vocab still works
    'tokenizer_config.json': { do_lower_case: false },
    'special_tokens_map.json': { cls_token: '<x>', sep_token: { content: '[SEP]' }, pad_token: '[MASK]' },
  });
  tok = loadTokenizer(cased, { modelType: 'bert', modelVocabSize: 13 });
  assert.equal(tok.padId, 4);
  const enc = tok.encodeBatch([{ text: 'Café ,' }, { text: 'a' }], { maxLength: 10 });
  assert.deepEqual(rowTokens(tok, enc, 0), ['<x>', 'Café', ',', '[SEP]']);
  assert.deepEqual(rowTokens(tok, enc, 1), ['<x>', 'a', '[SEP]', '[MASK]']);
  assert.deepEqual(tokens(tok, 'UNAFF'), ['[UNK]']);

  // strip_accents true without lowercasing.
  tok = loadTokenizer(folder('wp-strip', { 'vocab.txt': vocab.join('\n'), 'tokenizer_config.json': { do_lower_case: false, strip_accents: true } }), { modelType: 'bert', modelVocabSize: 13 });
  assert.deepEqual(tokens(tok, 'é'), ['[UNK]']);
  assert.deepEqual(tokens(tok, 'un'), ['un']);
});

test('a 100-character word is still split; 101 characters is [UNK]', () => {
  const dir = folder('wp-long', { 'vocab.txt': ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a', '##a'].join('\n') });
  const tok = loadTokenizer(dir, { modelType: 'bert', modelVocabSize: 6 });
  const enc = tok.encodeBatch([{ text: 'a'.repeat(100) }, { text: 'a'.repeat(101) }], { maxLength: 200 });
  assert.deepEqual(enc.lengths, Int32Array.from([102, 3]));
  assert.deepEqual(rowTokens(tok, enc, 0).slice(0, 4), ['[CLS]', 'a', '##a', '##a']);
  assert.deepEqual(rowTokens(tok, enc, 1).slice(0, 3), ['[CLS]', '[UNK]', '[SEP]']);
});

test('RoBERTa-style tokenizer.json (byte-level BPE, RobertaProcessing): <s> A </s></s> B </s>, token types all 0, <pad> padding', () => {
  const tok = loadTokenizer(ROBERTA, { modelType: 'roberta', modelVocabSize: 50265 });
  assert.equal(tok.source, 'tokenizer.json');
  assert.equal(tok.vocabSize, 24);
  assert.equal(tok.padId, 1);
  const enc = tok.encodeBatch([{ text: 'hello world', textPair: 'world' }, { text: 'hello' }], { maxLength: 16 });
  assert.deepEqual(rowTokens(tok, enc, 0), ['<s>', 'Ġhello', 'Ġworld', '</s>', '</s>', 'Ġworld', '</s>']);
  assert.deepEqual(row(enc.inputIds, enc, 0), [0, 18, 23, 2, 2, 23, 2]);
  assert.deepEqual(row(enc.tokenTypeIds, enc, 0), [0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(row(enc.specialTokensMask, enc, 0), [1, 0, 0, 1, 1, 0, 1]);
  assert.deepEqual(row(enc.inputIds, enc, 1), [0, 18, 2, 1, 1, 1, 1]);
  assert.deepEqual(row(enc.attentionMask, enc, 1), [1, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual(row(enc.specialTokensMask, enc, 1), [1, 0, 1, 1, 1, 1, 1]);
  // Four special tokens in a pair: maxLength 6 leaves 2, one per segment (tie → B loses first).
  const cut = tok.encodeBatch([{ text: 'hello world', textPair: 'world hello' }], { maxLength: 6 });
  assert.deepEqual(rowTokens(tok, cut, 0), ['<s>', 'Ġhello', '</s>', '</s>', 'Ġworld', '</s>']);
  assert.equal(cut.truncated, 1);
});

test('WordLevel model with TemplateProcessing (multi-id special token) and padding.pad_id', () => {
  const dir = folder('wordlevel', {
    'tokenizer.json': {
      version: '1.0', truncation: null, padding: { pad_id: 7, pad_token: '<p>' },
      added_tokens: [{ id: 0, content: '[UNK]', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false }],
      normalizer: { type: 'Lowercase' }, pre_tokenizer: { type: 'WhitespaceSplit' },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: 'BOS', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: 'BOS', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 2 } }, { SpecialToken: { id: 'BOS', type_id: 2 } }],
        special_tokens: { BOS: { id: 'BOS', ids: [1, 2], tokens: ['<b1>', '<b2>'] } },
      },
      decoder: null,
      model: { type: 'WordLevel', vocab: { '[UNK]': 0, '<b1>': 1, '<b2>': 2, red: 3, green: 4, blue: 5, '<p>': 7 }, unk_token: '[UNK]' },
    },
  });
  const tok = loadTokenizer(dir, { modelType: 'custom', modelVocabSize: 8 });
  assert.equal(tok.vocabSize, 8);
  assert.equal(tok.padId, 7);
  const enc = tok.encodeBatch([{ text: 'Red purple' }, { text: 'green', textPair: 'blue red' }], { maxLength: 8 });
  assert.equal(enc.seqLen, 7);
  assert.deepEqual(row(enc.inputIds, enc, 0), [1, 2, 3, 0, 7, 7, 7]); // 'purple' is [UNK]
  assert.deepEqual(row(enc.specialTokensMask, enc, 0), [1, 1, 0, 0, 1, 1, 1]);
  assert.deepEqual(row(enc.inputIds, enc, 1), [1, 2, 4, 5, 3, 1, 2]);
  assert.deepEqual(row(enc.tokenTypeIds, enc, 1), [0, 0, 0, 2, 2, 2, 2]);
  assert.deepEqual(row(enc.specialTokensMask, enc, 1), [1, 1, 0, 0, 0, 1, 1]);
});

test('BertProcessing and Sequence[ByteLevel, TemplateProcessing] post-processors lay out like TemplateProcessing', () => {
  const json = JSON.parse(fs.readFileSync(path.join(MODEL, 'tokenizer.json'), 'utf8'));
  const examples = referenceExamples('mrpc_dev16');
  const expected = bert.encodeBatch(examples, { maxLength: 48 });
  const variants = {
    'bert-processing': { type: 'BertProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] },
    'sequence': { type: 'Sequence', processors: [{ type: 'ByteLevel', trim_offsets: true }, json.post_processor] },
  };
  for (const [name, pp] of Object.entries(variants)) {
    const tok = loadTokenizer(folder(name, { 'tokenizer.json': { ...json, post_processor: pp } }), { modelType: 'bert', modelVocabSize: 30522 });
    const enc = tok.encodeBatch(examples, { maxLength: 48 });
    assert.deepEqual(enc.inputIds, expected.inputIds, name);
    assert.deepEqual(enc.tokenTypeIds, expected.tokenTypeIds, name);
    assert.deepEqual(enc.specialTokensMask, expected.specialTokensMask, name);
  }
  // No post-processor: no special tokens; the second segment still has token type 1.
  const none = loadTokenizer(folder('no-pp', { 'tokenizer.json': { ...json, post_processor: null } }), { modelType: 'bert', modelVocabSize: 30522 });
  const enc = none.encodeBatch([{ text: 'a b', textPair: 'x' }], { maxLength: 8 });
  assert.deepEqual(rowTokens(none, enc, 0), ['a', 'b', 'x']);
  assert.deepEqual(row(enc.tokenTypeIds, enc, 0), [0, 0, 1]);
  assert.deepEqual(row(enc.specialTokensMask, enc, 0), [0, 0, 0]);
});

test('a tokenizer larger than the model is refused with both sizes', () => {
  const expected = `tokenizer in ${MODEL} has 30522 tokens but the model's vocab_size is 1000 (config.json): the tokenizer does not belong to this model; copy the model's own tokenizer files`;
  for (const prefer of ['tokenizer.json', 'vocab.txt'] as const) {
    assert.throws(() => loadTokenizer(MODEL, { modelType: 'bert', modelVocabSize: 1000, prefer }), (e: unknown) => e instanceof UserError && e.message === expected);
  }
  // A model with spare embedding rows is fine.
  assert.equal(loadTokenizer(MODEL, { modelType: 'bert', modelVocabSize: 30528 }).vocabSize, 30522);
});

test('load errors: missing folder, no tokenizer files, malformed or unsupported tokenizer.json, vocab without [CLS]', () => {
  const opts = { modelType: 'bert', modelVocabSize: 30522 };
  throwsUser(() => loadTokenizer(path.join(tmp, 'nope'), opts), /nope does not exist/);
  const empty = folder('empty', { 'config.json': {} });
  throwsUser(() => loadTokenizer(empty, opts), /no tokenizer in .*empty: looked for tokenizer\.json and vocab\.txt/);
  throwsUser(() => loadTokenizer(folder('bad-json', { 'tokenizer.json': '{"model": ' }), opts), /bad-json.tokenizer\.json: not valid JSON/);
  throwsUser(() => loadTokenizer(folder('no-model', { 'tokenizer.json': { version: '1.0' } }), opts), /no "model" object/);
  throwsUser(() => loadTokenizer(folder('bad-type', { 'tokenizer.json': { model: { type: 'SentencePieceBPE', vocab: {} } } }), opts), /model type "SentencePieceBPE" is not supported/);
  const json = JSON.parse(fs.readFileSync(path.join(MODEL, 'tokenizer.json'), 'utf8'));
  throwsUser(() => loadTokenizer(folder('bad-pp', { 'tokenizer.json': { ...json, post_processor: { type: 'Fancy' } } }), opts), /post_processor type "Fancy" is not supported/);
  throwsUser(() => loadTokenizer(folder('bad-norm', { 'tokenizer.json': { ...json, normalizer: { type: 'Fancy' } } }), opts), /bad-norm.tokenizer\.json: cannot load the tokenizer/);
  throwsUser(() => loadTokenizer(folder('bad-config', { 'vocab.txt': '[UNK]\n[SEP]\n', 'tokenizer_config.json': '[1' }), opts), /tokenizer_config\.json: not valid JSON/);
  throwsUser(() => loadTokenizer(folder('no-cls', { 'vocab.txt': '[UNK]\n[SEP]\n' }), opts), /vocab\.txt has no '\[CLS\]' token/);
  throwsUser(() => loadTokenizer(folder('no-unk', { 'vocab.txt': '[CLS]\n[SEP]\n' }), opts), /unknown token '\[UNK\]' is not in the vocabulary/);
  throwsUser(() => bert.encodeBatch([{ text: 'a' }], { maxLength: 8, padding: 'right' as 'longest' }), /padding must be/);
});
