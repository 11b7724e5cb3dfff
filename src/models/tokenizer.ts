/**
 * Tokenizers for Hugging Face checkpoint folders, with batching done as `transformers` does it.
 *
 * Two sources: `tokenizer.json` (the "fast" tokenizer; its normaliser, pre-tokeniser and model run
 * in @huggingface/tokenizers) and a bare `vocab.txt` (WordPiece as BertTokenizer, wordpiece.ts).
 * Either way each segment is encoded WITHOUT special tokens and the rest is ours: longest-first
 * truncation, the post-processor's template (special tokens and token types), right padding.
 *
 * Why not let @huggingface/tokenizers (0.2.0) do it all: it has no truncation or padding API, and
 * its post-processors differ from the Rust ones (its RobertaProcessing gives the second segment
 * token type 1, where Rust and RobertaTokenizer give 0; its TemplateProcessing maps a special
 * token to one id by name, ignoring `special_tokens[..].ids`; it has no special-tokens mask). So
 * the library gets the tokenizer.json with `post_processor: null`, and `encode(text,
 * { add_special_tokens: false })` gives one bare segment: added-token splitting, normaliser,
 * pre-tokeniser and model only. Special tokens found in the text ("[MASK]") stay single tokens,
 * as in transformers.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { UserError, check } from '../errors.js';
import type { TextExample } from '../io/datasets.js';
import { readTextFileSync } from '../io/file-io.js';
import { checkNesting, syntaxError } from '../io/json-limits.js';
import { WordPiece, parseVocab } from './wordpiece.js';

export type { TextExample };

export interface EncodeOptions {
  /** Length of every row after truncation, special tokens included. */
  maxLength: number;
  /** 'longest' (default): pad to the longest row of the batch; 'max_length': to maxLength. */
  padding?: 'longest' | 'max_length';
}

export interface EncodedBatch {
  batch: number;
  seqLen: number;
  /** batch × seqLen, row-major. */
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  /** 1 at special tokens added by the post-processor ([CLS], [SEP], <s>, </s>) and at padding. */
  specialTokensMask: Uint8Array;
  /** Non-padding tokens per example. */
  lengths: Int32Array;
  /** How many examples lost tokens to truncation. */
  truncated: number;
}

export interface Tokenizer {
  readonly source: 'tokenizer.json' | 'vocab.txt';
  /** Largest id + 1. */
  readonly vocabSize: number;
  readonly padId: number;
  encodeBatch(examples: readonly TextExample[], options: EncodeOptions): EncodedBatch;
  idToToken(id: number): string;
}

export interface LoadTokenizerOptions {
  /** config.json `model_type` (bert, roberta, ...), for messages. */
  modelType: string;
  /** config.json `vocab_size`: a tokenizer with larger ids does not belong to the model. */
  modelVocabSize: number;
  /** Which file to use when both exist (default tokenizer.json). */
  prefer?: 'tokenizer.json' | 'vocab.txt';
}

/** One item of a post-processor template: special token ids, or segment A/B, with a token type. */
type Piece = { kind: 'special'; ids: number[]; typeId: number } | { kind: 'sequence'; which: 'A' | 'B'; typeId: number };

interface Template {
  single: Piece[];
  /** null: the post-processor defines no pair template (pairs are refused). */
  pair: Piece[] | null;
}

const special = (id: number, typeId = 0): Piece => ({ kind: 'special', ids: [id], typeId });
const seqA = (typeId = 0): Piece => ({ kind: 'sequence', which: 'A', typeId });
const seqB = (typeId: number): Piece => ({ kind: 'sequence', which: 'B', typeId });

/** BertProcessing / BertTokenizer.build_inputs_with_special_tokens: [CLS] A [SEP] (B [SEP]), types 0…0 1…1. */
function bertTemplate(cls: number, sep: number): Template {
  return { single: [special(cls), seqA(), special(sep)], pair: [special(cls), seqA(), special(sep), seqB(1), special(sep, 1)] };
}

/** RobertaProcessing / RobertaTokenizer: <s> A </s> (</s> B </s>), token types all 0. */
function robertaTemplate(cls: number, sep: number): Template {
  return { single: [special(cls), seqA(), special(sep)], pair: [special(cls), seqA(), special(sep), special(sep), seqB(0), special(sep)] };
}

const specialCount = (pieces: readonly Piece[]): number =>
  pieces.reduce((n, p) => n + (p.kind === 'special' ? p.ids.length : 0), 0);

/**
 * How many tokens of A and B survive truncation to `budget` (= maxLength − special tokens), as
 * transformers' `truncate_sequences` with `longest_first`: remove one token at a time from the
 * end of the longer segment, from B on a tie. Closed form of that loop: the longer one is cut
 * down to the shorter, then they alternate, so A keeps ⌈budget/2⌉ and B ⌊budget/2⌋ when both lose.
 */
function truncateLongestFirst(a: number, b: number | null, budget: number): [number, number] {
  if (b === null) return [Math.min(a, budget), 0];
  if (a + b <= budget) return [a, b];
  const half = Math.floor(budget / 2);
  if (b <= half) return [budget - b, b];
  if (a <= budget - half) return [a, budget - a];
  return [budget - half, half];
}

class BatchTokenizer implements Tokenizer {
  constructor(
    readonly source: 'tokenizer.json' | 'vocab.txt',
    readonly vocabSize: number,
    readonly padId: number,
    private readonly encodeSegment: (text: string) => number[],
    private readonly template: Template,
    private readonly token: (id: number) => string | undefined,
    private readonly where: string,
  ) {}

  /**
   * Encode a batch: each segment without special tokens, truncated longest-first to fit
   * `maxLength` with the template's special tokens, laid out by the template, padded right.
   */
  encodeBatch(examples: readonly TextExample[], options: EncodeOptions): EncodedBatch {
    const { maxLength, padding = 'longest' } = options;
    check(Number.isSafeInteger(maxLength) && maxLength > 0, `max length must be a positive integer, got ${maxLength}`);
    check(padding === 'longest' || padding === 'max_length', `padding must be 'longest' or 'max_length', got '${String(padding)}'`);
    const rows: { ids: number[]; types: number[]; specials: number[] }[] = [];
    let truncated = 0, longest = 0;
    for (const example of examples) {
      const isPair = example.textPair !== undefined && example.textPair !== null;
      const pieces = isPair ? this.template.pair : this.template.single;
      check(pieces !== null, `the tokenizer in ${this.where} has no template for sentence pairs; give single sentences`);
      const budget = maxLength - specialCount(pieces);
      check(budget >= 0, `max length ${maxLength} is smaller than the ${specialCount(pieces)} special tokens each example needs`);
      const a = this.encodeSegment(example.text);
      const b = isPair ? this.encodeSegment(example.textPair!) : null;
      const [na, nb] = truncateLongestFirst(a.length, b === null ? null : b.length, budget);
      if (na < a.length || (b !== null && nb < b.length)) truncated++;
      const row = { ids: [] as number[], types: [] as number[], specials: [] as number[] };
      for (const p of pieces) {
        if (p.kind === 'special') {
          for (const id of p.ids) {
            row.ids.push(id);
            row.types.push(p.typeId);
            row.specials.push(1);
          }
        } else {
          const seg = p.which === 'A' ? a : b!;
          const n = p.which === 'A' ? na : nb;
          for (let i = 0; i < n; i++) {
            row.ids.push(seg[i]);
            row.types.push(p.typeId);
            row.specials.push(0);
          }
        }
      }
      longest = Math.max(longest, row.ids.length);
      rows.push(row);
    }
    const batch = rows.length, seqLen = padding === 'max_length' ? maxLength : longest;
    const inputIds = new Int32Array(batch * seqLen).fill(this.padId);
    const attentionMask = new Int32Array(batch * seqLen);
    const tokenTypeIds = new Int32Array(batch * seqLen);
    const specialTokensMask = new Uint8Array(batch * seqLen).fill(1);
    const lengths = new Int32Array(batch);
    rows.forEach((row, r) => {
      const base = r * seqLen;
      lengths[r] = row.ids.length;
      inputIds.set(row.ids, base);
      tokenTypeIds.set(row.types, base);
      specialTokensMask.set(row.specials, base);
      attentionMask.fill(1, base, base + row.ids.length);
    });
    return { batch, seqLen, inputIds, attentionMask, tokenTypeIds, specialTokensMask, lengths, truncated };
  }

  idToToken(id: number): string {
    const t = Number.isInteger(id) ? this.token(id) : undefined;
    if (t === undefined) throw new RangeError(`token id ${id} is not in the vocabulary of ${this.where} (size ${this.vocabSize})`);
    return t;
  }
}

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A JSON object file, or undefined when the file does not exist; malformed → UserError. */
function readJsonObject(path: string): Json | undefined {
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    const text = readTextFileSync(path, { expected: 'a tokenizer file' });
    checkNesting(text, path, "re-save the file from the model's tokenizer");
    value = JSON.parse(text);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path}: not valid JSON (${syntaxError(e)}); re-save the file from the model's tokenizer`);
  }
  check(isObject(value), `${path}: expected a JSON object; re-save the file from the model's tokenizer`);
  return value;
}

/** A special token as tokenizer_config.json / special_tokens_map.json write it: "x" or {content: "x"}. */
function tokenString(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (isObject(x) && typeof x.content === 'string') return x.content;
  return undefined;
}

/** The tokenizer_config.json and special_tokens_map.json of a folder ({} when absent). */
function readConfigs(dir: string): { config: Json; specialMap: Json } {
  return {
    config: readJsonObject(join(dir, 'tokenizer_config.json')) ?? {},
    specialMap: readJsonObject(join(dir, 'special_tokens_map.json')) ?? {},
  };
}

/** A named special token (cls_token, ...) from special_tokens_map.json, else tokenizer_config.json. */
function namedToken(name: string, configs: { config: Json; specialMap: Json }): string | undefined {
  return tokenString(configs.specialMap[name]) ?? tokenString(configs.config[name]);
}

/**
 * Load the tokenizer of a Hugging Face checkpoint folder: `tokenizer.json` if present (unless
 * `prefer` is 'vocab.txt' and vocab.txt exists), else `vocab.txt` as BertTokenizer. Checks that
 * the tokenizer's ids fit the model's embedding table (`modelVocabSize`).
 */
export function loadTokenizer(dir: string, options: LoadTokenizerOptions): Tokenizer {
  check(existsSync(dir) && statSync(dir).isDirectory(), `model folder ${dir} does not exist or is not a folder`);
  const jsonPath = join(dir, 'tokenizer.json'), vocabPath = join(dir, 'vocab.txt');
  const hasJson = existsSync(jsonPath), hasVocab = existsSync(vocabPath);
  check(hasJson || hasVocab, `no tokenizer in ${dir}: looked for tokenizer.json and vocab.txt; copy the tokenizer files of the ${options.modelType} model into that folder`);
  const useVocab = hasVocab && (!hasJson || options.prefer === 'vocab.txt');
  const tokenizer = useVocab ? loadVocabTxt(dir, vocabPath) : loadTokenizerJson(dir, jsonPath, options.modelType);
  check(
    tokenizer.vocabSize <= options.modelVocabSize,
    () => `tokenizer in ${dir} has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${options.modelVocabSize} (config.json): the tokenizer does not belong to this model; copy the model's own tokenizer files`,
  );
  return tokenizer;
}

/** BertTokenizer from vocab.txt, tokenizer_config.json (do_lower_case, strip_accents, tokenize_chinese_chars) and special_tokens_map.json. */
function loadVocabTxt(dir: string, vocabPath: string): Tokenizer {
  const { vocab, tokens } = parseVocab(readTextFileSync(vocabPath, { expected: 'a vocab.txt file' }));
  check(tokens.length > 0, `${vocabPath} is empty; copy the model's vocab.txt again`);
  const configs = readConfigs(dir);
  const { config } = configs;
  const name = (key: string, fallback: string): string => namedToken(key, configs) ?? fallback;
  const cls = name('cls_token', '[CLS]'), sep = name('sep_token', '[SEP]'), pad = name('pad_token', '[PAD]');
  const unk = name('unk_token', '[UNK]'), mask = name('mask_token', '[MASK]');
  const idOf = (t: string): number => {
    const id = vocab.get(t);
    check(id !== undefined, `${vocabPath} has no '${t}' token, which BERT-style inputs need; use the model's own vocab.txt or fix special_tokens_map.json`);
    return id;
  };
  const additional = Array.isArray(configs.specialMap.additional_special_tokens)
    ? configs.specialMap.additional_special_tokens.map(tokenString).filter((t): t is string => t !== undefined)
    : [];
  const flag = (key: string, fallback: boolean | null): boolean | null =>
    typeof config[key] === 'boolean' ? (config[key] as boolean) : fallback;
  const wordPiece = new WordPiece(vocab, {
    doLowerCase: flag('do_lower_case', true)!,
    stripAccents: flag('strip_accents', null),
    tokenizeChineseChars: flag('tokenize_chinese_chars', true)!,
    neverSplit: [cls, sep, pad, unk, mask, ...additional],
    unkToken: unk,
  }, vocabPath);
  return new BatchTokenizer(
    'vocab.txt', tokens.length, vocab.get(pad) ?? 0, (t) => wordPiece.encode(t),
    bertTemplate(idOf(cls), idOf(sep)), (id) => tokens[id], dir,
  );
}

const SUPPORTED_MODELS = ['WordPiece', 'BPE', 'Unigram', 'WordLevel'];

/** The fast tokenizer: @huggingface/tokenizers for segments, the post_processor template ours. */
function loadTokenizerJson(dir: string, path: string, modelType: string): Tokenizer {
  const json = readJsonObject(path)!;
  const model = json.model;
  check(isObject(model), `${path}: no "model" object; this is not a Hugging Face tokenizer.json (re-save it with tokenizer.save_pretrained)`);
  check(
    typeof model.type === 'string' && SUPPORTED_MODELS.includes(model.type),
    `${path}: tokenizer model type ${JSON.stringify(model.type)} is not supported (${SUPPORTED_MODELS.join(', ')} are); only BERT-family tokenizers are read`,
  );
  check(isObject(model.vocab) || Array.isArray(model.vocab), `${path}: the tokenizer model has no vocab; re-save the file with tokenizer.save_pretrained`);
  const addedTokens = json.added_tokens ?? [];
  check(Array.isArray(addedTokens), `${path}: "added_tokens" is not a list; re-save the file with tokenizer.save_pretrained`);
  const configs = readConfigs(dir);
  const libConfig: Json = { ...configs.config };
  // The library maps WordLevel to its "Legacy" model, which takes the unknown token from the config.
  if (model.type === 'WordLevel' && typeof model.unk_token === 'string') libConfig.unk_token = model.unk_token;
  let hf: HfTokenizer;
  try {
    // post_processor null: the library only encodes bare segments; we apply the template.
    hf = new HfTokenizer({ ...json, added_tokens: addedTokens, model, post_processor: null }, libConfig);
    hf.encode('a', { add_special_tokens: false }); // surfaces errors of lazily built parts now
  } catch (e) {
    throw new UserError(`${path}: cannot load the tokenizer (${(e as Error).message.split('\n')[0]}); is it a valid ${modelType} tokenizer.json?`);
  }
  const vocab = hf.get_vocab(true);
  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
  const idOf = (t: string | undefined): number | undefined => (t === undefined ? undefined : hf.token_to_id(t));
  const padding = json.padding;
  const padId = (isObject(padding) && typeof padding.pad_id === 'number' ? padding.pad_id : undefined) ??
    idOf('[PAD]') ?? idOf('<pad>') ?? idOf(namedToken('pad_token', configs)) ?? 0;
  const template = parsePostProcessor(json.post_processor, path, idOf);
  return new BatchTokenizer(
    'tokenizer.json', vocabSize, padId, (text) => hf.encode(text, { add_special_tokens: false }).ids,
    template, (id) => hf.id_to_token(id), dir,
  );
}

/**
 * The special-token template of a tokenizer.json `post_processor`, as the Rust `tokenizers`
 * processors lay inputs out: TemplateProcessing (its `single`/`pair` lists and `special_tokens`
 * ids), BertProcessing, RobertaProcessing, a Sequence holding one of these (ByteLevel only fixes
 * offsets, so it is skipped), or none (no special tokens; a pair's second segment gets type 1).
 */
function parsePostProcessor(pp: unknown, path: string, idOf: (token: string) => number | undefined): Template {
  const bad = (what: string): UserError => new UserError(`${path}: post_processor ${what}; re-save the file with tokenizer.save_pretrained`);
  if (pp === null || pp === undefined) return { single: [seqA()], pair: [seqA(), seqB(1)] };
  if (!isObject(pp)) throw bad('is not an object');
  const pairToken = (x: unknown, name: string): number => {
    if (!Array.isArray(x) || x.length !== 2 || typeof x[1] !== 'number') throw bad(`${pp.type} has no valid "${name}" [token, id]`);
    return x[1];
  };
  switch (pp.type) {
    case 'BertProcessing':
      return bertTemplate(pairToken(pp.cls, 'cls'), pairToken(pp.sep, 'sep'));
    case 'RobertaProcessing':
      return robertaTemplate(pairToken(pp.cls, 'cls'), pairToken(pp.sep, 'sep'));
    case 'ByteLevel':
      return { single: [seqA()], pair: [seqA(), seqB(1)] };
    case 'TemplateProcessing': {
      const specials = isObject(pp.special_tokens) ? pp.special_tokens : {};
      const pieces = (list: unknown, which: string): Piece[] => {
        if (!Array.isArray(list)) throw bad(`TemplateProcessing has no "${which}" list`);
        return list.map((item): Piece => {
          if (isObject(item) && isObject(item.SpecialToken)) {
            const { id, type_id: typeId = 0 } = item.SpecialToken;
            const entry = typeof id === 'string' ? specials[id] : undefined;
            let ids = isObject(entry) && Array.isArray(entry.ids) && entry.ids.every((n) => typeof n === 'number') ? (entry.ids as number[]) : undefined;
            if (ids === undefined && typeof id === 'string') {
              const single = idOf(id);
              ids = single === undefined ? undefined : [single];
            }
            if (ids === undefined || typeof typeId !== 'number') throw bad(`TemplateProcessing special token ${JSON.stringify(id)} has no id`);
            return { kind: 'special', ids, typeId };
          }
          if (isObject(item) && isObject(item.Sequence) && (item.Sequence.id === 'A' || item.Sequence.id === 'B')) {
            const typeId = item.Sequence.type_id ?? 0;
            if (typeof typeId !== 'number') throw bad('TemplateProcessing has a non-numeric type_id');
            return { kind: 'sequence', which: item.Sequence.id, typeId };
          }
          throw bad(`TemplateProcessing item ${JSON.stringify(item)} is neither a SpecialToken nor a Sequence A/B`);
        });
      };
      const single = pieces(pp.single, 'single');
      const pair = pp.pair === undefined || pp.pair === null ? null : pieces(pp.pair, 'pair');
      if (single.some((p) => p.kind === 'sequence' && p.which === 'B')) throw bad('TemplateProcessing uses sequence B in its single template');
      return { single, pair };
    }
    case 'Sequence': {
      const inner = Array.isArray(pp.processors) ? pp.processors.filter((p) => !(isObject(p) && p.type === 'ByteLevel')) : null;
      if (inner === null) throw bad('Sequence has no "processors" list');
      if (inner.length > 1) throw bad(`Sequence adds special tokens in ${inner.length} processors; only one is supported`);
      return parsePostProcessor(inner[0] ?? null, path, idOf);
    }
    default:
      throw new UserError(`${path}: post_processor type ${JSON.stringify(pp.type)} is not supported (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence are); re-save it from a BERT-family tokenizer`);
  }
}
