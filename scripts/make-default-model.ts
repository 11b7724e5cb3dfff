/**
 * Builds the embedded default of `npm start` in data/default/, offline and byte for byte:
 *
 * - `text.txt`: 600 English sentences generated from a small seeded grammar written for this
 *   project (MIT, like the rest of it). Words recur across many sentences, so self-similarity
 *   (same word, different contexts) has enough occurrences to measure.
 * - `bert-random-init/`: a Hugging Face BERT folder (config.json, model.safetensors, vocab.txt,
 *   tokenizer_config.json, special_tokens_map.json) with seeded initial weights, initialised as
 *   transformers' `BertPreTrainedModel._init_weights` does (src/models/init.ts).
 *   Its WordPiece vocabulary holds the special tokens, every character of the text (bare and
 *   `##`-continued) and every word of the text, so nothing maps to [UNK].
 *
 * The model is untrained: the report shows the geometry of a randomly initialised BERT. The
 * training issue replaces it with one the project pretrains.
 *
 *     node --import tsx scripts/make-default-model.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeSafetensors } from '../src/io/safetensors.js';
import { initialBertTensors } from '../src/models/init.js';
import { Rng } from '../src/metrics/sample.js';

const OUT = resolve(import.meta.dirname, '..', 'data', 'default');
const SENTENCES = 600;
const CONFIG = {
  architectures: ['BertForMaskedLM'], model_type: 'bert', hidden_size: 64, num_hidden_layers: 4, num_attention_heads: 4,
  intermediate_size: 256, hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 128, type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0,
  position_embedding_type: 'absolute', torch_dtype: 'float32',
};

const uniform = new Rng(20261124);
const pick = <T>(items: readonly T[]): T => items[uniform.nextInt(items.length)];

// ---- the text --------------------------------------------------------------------------------
const W = {
  person: ['the farmer', 'a young teacher', 'my neighbour', 'the old sailor', 'a quiet student', 'the baker', 'her brother', 'the doctor', 'a tired driver', 'the children', 'our guide', 'the painter'],
  thing: ['the river', 'a small boat', 'the garden', 'an old map', 'the bridge', 'a warm bread', 'the morning train', 'a red kite', 'the library', 'the market', 'a long letter', 'the mountain road'],
  place: ['in the village', 'near the harbour', 'under the bridge', 'at the market', 'by the river', 'on the hill', 'in the kitchen', 'across the field', 'behind the school', 'along the coast'],
  time: ['every morning', 'last winter', 'before dawn', 'after the storm', 'on sunday', 'at night', 'in the spring', 'during the festival', 'this afternoon', 'once a year'],
  verbPast: ['found', 'painted', 'carried', 'watched', 'repaired', 'described', 'remembered', 'followed', 'opened', 'crossed', 'cleaned', 'sold'],
  verbIntr: ['laughed', 'waited', 'slept', 'sang', 'worked', 'walked', 'listened', 'rested', 'smiled', 'travelled'],
  adjective: ['bright', 'heavy', 'quiet', 'cold', 'green', 'broken', 'strange', 'gentle', 'narrow', 'golden', 'busy', 'empty'],
  adverb: ['slowly', 'carefully', 'happily', 'silently', 'quickly', 'again'],
  because: ['because it was late', 'because the wind was strong', 'because nobody else could', 'because the road was closed', 'because it felt right'],
};
const capitalise = (s: string) => s[0].toUpperCase() + s.slice(1);
const TEMPLATES: (() => string)[] = [
  () => `${pick(W.person)} ${pick(W.verbPast)} ${pick(W.thing)} ${pick(W.place)} .`,
  () => `${pick(W.time)} , ${pick(W.person)} ${pick(W.verbIntr)} ${pick(W.adverb)} ${pick(W.place)} .`,
  () => `${pick(W.thing)} was ${pick(W.adjective)} and ${pick(W.adjective)} ${pick(W.time)} .`,
  () => `${pick(W.person)} ${pick(W.verbPast)} ${pick(W.thing)} ${pick(W.because)} .`,
  () => `did ${pick(W.person)} really see ${pick(W.thing)} ${pick(W.place)} ?`,
  () => `${pick(W.person)} said that ${pick(W.thing)} looked ${pick(W.adjective)} ${pick(W.time)} .`,
  () => `when ${pick(W.person)} ${pick(W.verbIntr)} , ${pick(W.person)} ${pick(W.verbPast)} ${pick(W.thing)} .`,
  () => `${pick(W.thing)} ${pick(W.place)} is ${pick(W.adjective)} , but ${pick(W.thing)} is ${pick(W.adjective)} .`,
];
const text = Array.from({ length: SENTENCES }, () => capitalise(pick(TEMPLATES)()));

// ---- the vocabulary -------------------------------------------------------------------------
const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const lower = text.map((s) => s.toLowerCase());
const chars = [...new Set(lower.join('').replace(/\s/g, ''))].sort();
const words = [...new Set(lower.flatMap((s) => s.split(/\s+/)))].filter((w) => w.length > 1).sort();
const vocab = [...SPECIALS, ...chars, ...chars.map((c) => `##${c}`), ...words];

// ---- the weights (seeded, as transformers initialises a BertForMaskedLM) ---------------------
const config = { ...CONFIG, vocab_size: vocab.length };
const tensors = initialBertTensors(config, 20261124);
const V = vocab.length;

// ---- write ------------------------------------------------------------------------------------
const model = resolve(OUT, 'bert-random-init');
mkdirSync(model, { recursive: true });
writeFileSync(resolve(OUT, 'text.txt'), `${text.join('\n')}\n`);
writeFileSync(resolve(model, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
writeFileSync(resolve(model, 'vocab.txt'), `${vocab.join('\n')}\n`);
writeFileSync(resolve(model, 'tokenizer_config.json'), `${JSON.stringify({ do_lower_case: true, model_max_length: CONFIG.max_position_embeddings, tokenizer_class: 'BertTokenizer' }, null, 2)}\n`);
writeFileSync(resolve(model, 'special_tokens_map.json'), `${JSON.stringify({ cls_token: '[CLS]', mask_token: '[MASK]', pad_token: '[PAD]', sep_token: '[SEP]', unk_token: '[UNK]' }, null, 2)}\n`);
writeSafetensors(resolve(model, 'model.safetensors'), tensors, { format: 'pt' });
console.log(`wrote ${OUT}: ${SENTENCES} sentences, vocabulary ${V}, ${tensors.reduce((s, t) => s + t.data.length, 0)} parameters`);
