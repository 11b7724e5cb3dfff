/**
 * A WordPiece tokenizer from a bare `vocab.txt`, as Hugging Face `BertTokenizer` (the "slow",
 * pure-Python one in transformers/models/bert/tokenization_bert.py) does it:
 *
 * 1. added/special tokens ([CLS], [SEP], [PAD], [UNK], [MASK]) found verbatim in the raw text
 *    are kept whole (PreTrainedTokenizer.tokenize splits on them before anything else);
 * 2. BasicTokenizer: drop NUL, U+FFFD and control characters (category C*, except \t \n \r),
 *    map whitespace (\t \n \r and Zs) to a space, put spaces around CJK ideographs, NFC, split
 *    on whitespace; per word: lowercase and strip accents (NFD, drop Mn) when `do_lower_case`
 *    (accents also follow `strip_accents` if set), then split off every punctuation character
 *    (Unicode P* plus the ASCII ranges 33–47, 58–64, 91–96, 123–126, as BERT's _is_punctuation);
 * 3. WordpieceTokenizer: greedy longest-match-first over code points with the `##` continuation
 *    prefix; a word longer than 100 code points, or one with no complete split, becomes [UNK].
 *
 * It returns ids without special tokens; templates, truncation and padding live in tokenizer.ts.
 */
import { UserError } from '../errors.js';

export interface WordPieceOptions {
  /** Lowercase (and, unless `stripAccents` is false, strip accents). HF default true. */
  doLowerCase: boolean;
  /** null: follow `doLowerCase` (HF's `strip_accents=None`). */
  stripAccents: boolean | null;
  /** Put spaces around CJK ideographs (HF `tokenize_chinese_chars`, default true). */
  tokenizeChineseChars: boolean;
  /** Token strings kept whole when they occur in the raw text (the special tokens). */
  neverSplit: readonly string[];
  unkToken: string;
  /** HF WordpieceTokenizer's `max_input_chars_per_word`. */
  maxInputCharsPerWord?: number;
}

// BasicTokenizer._clean_text: \t \n \r and Zs become spaces; NUL, U+FFFD and other C* go.
const WHITESPACE = /[\t\n\r\p{Zs}]/gu;
const INVALID = /[\uFFFD\p{C}]/gu;
// BasicTokenizer._is_chinese_char: the CJK Unified Ideographs blocks (not Hiragana, Hangul...).
const CJK = /[\u4E00-\u9FFF\u3400-\u4DBF\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\uF900-\uFAFF\u{2F800}-\u{2FA1F}]/gu;
// BasicTokenizer._is_punctuation: Unicode P* plus all ASCII non-alphanumeric printables ($, ^, `...).
const PUNCTUATION = /([\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E])/u;
const MARKS = /\p{Mn}/gu;
// Python's str.split() whitespace that can survive _clean_text: space, U+2028, U+2029.
const SPLIT = /\s+/u;
const NEEDS_CLEANING = /[^\x20-\x7E]/;

/** Bounded memo of word → ids; real text repeats words, so most words skip WordPiece entirely. */
const CACHE_LIMIT = 200_000;

export class WordPiece {
  readonly vocab: Map<string, number>;
  readonly unkId: number;
  private readonly options: Required<WordPieceOptions>;
  private readonly specialSplitter: RegExp | null;
  private readonly cache = new Map<string, number[]>();

  constructor(vocab: Map<string, number>, options: WordPieceOptions, where: string) {
    this.vocab = vocab;
    this.options = { maxInputCharsPerWord: 100, ...options };
    const unk = vocab.get(options.unkToken);
    if (unk === undefined) {
      throw new UserError(`${where}: the unknown token '${options.unkToken}' is not in the vocabulary; add it or name the right one as unk_token in special_tokens_map.json`);
    }
    this.unkId = unk;
    const specials = [...new Set(options.neverSplit)].filter((t) => t.length > 0 && vocab.has(t));
    // Longest first, so a token that is a prefix of another never wins (HF uses a trie: same result).
    specials.sort((a, b) => b.length - a.length);
    this.specialSplitter = specials.length
      ? new RegExp(`(${specials.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`, 'u')
      : null;
  }

  /** Token ids of `text` without special tokens added around it (`add_special_tokens=False`). */
  encode(text: string): number[] {
    const out: number[] = [];
    if (this.specialSplitter === null) {
      this.encodeChunk(text, out);
      return out;
    }
    // split with a capturing group: odd indices are the special tokens themselves.
    const parts = text.split(this.specialSplitter);
    for (let i = 0; i < parts.length; i++) {
      if (i % 2 === 1) out.push(this.vocab.get(parts[i])!);
      else if (parts[i].length > 0) this.encodeChunk(parts[i], out);
    }
    return out;
  }

  /** BasicTokenizer.tokenize up to the whitespace split, then each word through the memo. */
  private encodeChunk(text: string, out: number[]): void {
    if (NEEDS_CLEANING.test(text)) {
      text = text.replace(WHITESPACE, ' ').replace(INVALID, '');
      if (this.options.tokenizeChineseChars) text = text.replace(CJK, ' $& ');
      // transformers ≥ 4.3x normalises to NFC so that composed and decomposed forms agree.
      text = text.normalize('NFC');
    }
    for (const word of text.split(SPLIT)) {
      if (word.length === 0) continue;
      let ids = this.cache.get(word);
      if (ids === undefined) {
        ids = this.encodeWord(word);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  /** One whitespace-delimited word: lowercase/accents, punctuation split, WordPiece. */
  private encodeWord(word: string): number[] {
    const { doLowerCase, stripAccents } = this.options;
    if (doLowerCase) word = word.toLowerCase();
    if (stripAccents === true || (stripAccents === null && doLowerCase)) {
      word = word.normalize('NFD').replace(MARKS, '');
    }
    const ids: number[] = [];
    for (const piece of word.split(PUNCTUATION)) {
      if (piece.length > 0) this.wordPiece(piece, ids);
    }
    return ids;
  }

  /** WordpieceTokenizer.tokenize for one punctuation-free token: greedy longest match first. */
  private wordPiece(token: string, out: number[]): void {
    // Code-point boundaries in UTF-16 units: Python slices code points, so must we.
    const bounds: number[] = [0];
    for (let i = 0; i < token.length; ) {
      i += token.codePointAt(i)! > 0xffff ? 2 : 1;
      bounds.push(i);
    }
    const n = bounds.length - 1;
    if (n > this.options.maxInputCharsPerWord) {
      out.push(this.unkId);
      return;
    }
    const pieces: number[] = [];
    let start = 0;
    while (start < n) {
      let end = n, found = -1;
      while (start < end) {
        const sub = token.slice(bounds[start], bounds[end]);
        const id = this.vocab.get(start > 0 ? '##' + sub : sub);
        if (id !== undefined) {
          found = id;
          break;
        }
        end--;
      }
      // No piece fits here: HF marks the whole word bad and emits one [UNK] for it.
      if (found < 0) {
        out.push(this.unkId);
        return;
      }
      pieces.push(found);
      start = end;
    }
    for (const id of pieces) out.push(id);
  }
}

/**
 * Parse `vocab.txt` as HF `load_vocab` does: one token per line, id = line index (a token that
 * appears twice keeps its last index). A trailing \r is dropped too, so a CRLF file still works.
 */
export function parseVocab(text: string): { vocab: Map<string, number>; tokens: string[] } {
  const tokens = text.split('\n');
  if (tokens.length > 0 && tokens[tokens.length - 1] === '') tokens.pop();
  const vocab = new Map<string, number>();
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i].endsWith('\r')) tokens[i] = tokens[i].slice(0, -1);
    vocab.set(tokens[i], i);
  }
  return { vocab, tokens };
}
