/**
 * Training checkpoints: a Hugging Face folder (config.json with the head's labels,
 * model.safetensors under HF names, the tokenizer files) plus what an exact resume needs —
 * optimizer.safetensors (AdamW's moments, and I-STAR's current C0) and trainer_state.json (step,
 * epoch, position in the epoch's data order; the data order and every dropout mask are keyed by
 * the run's seed, the epoch and the step, so no generator state is left to save). A last file,
 * checkpoint.json, lists every file's size and SHA-256: a checkpoint whose files no longer match
 * is refused by name rather than resumed from.
 *
 * Each checkpoint is built as a staged folder beside its final name and renamed into place when
 * complete (src/io/safe-output.ts), so a folder named step-N is always whole.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic, readTextFileSync } from '../io/file-io.js';
import { StagedFolder, planFolderOutput } from '../io/safe-output.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { checkpointConfig } from '../models/checkpoint-config.js';
import type { TrainableModel } from '../models/trainable.js';
import type { AdamW, AdamWState, Floats } from './optimizer.js';

/** Tokenizer files a Hugging Face folder may hold; those present in the model folder are copied. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'vocab.json', 'merges.txt', 'spiece.model', 'sentencepiece.bpe.model', 'added_tokens.json'];

const MANIFEST = 'checkpoint.json';
const STATE = 'trainer_state.json';
const OPTIMIZER = 'optimizer.safetensors';

export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  /** The epoch the next step belongs to (0-based) and how many of its batches are done. */
  epoch: number;
  batchInEpoch: number;
  /** The run's steps are all done and evaluated. */
  finished: boolean;
}

export interface CheckpointContent {
  model: TrainableModel;
  labels: readonly string[] | null;
  optimizer: AdamW;
  state: TrainerState;
  /** I-STAR's C0 when the run has one. */
  c0: Float64Array | null;
  /** Where the tokenizer files come from. */
  tokenizerDir: string;
}

export function isCheckpointFolder(dir: string): boolean {
  return existsSync(join(dir, MANIFEST));
}

/** Write the checkpoint folder `dir` atomically (staged beside it, renamed when complete). */
export function saveCheckpoint(dir: string, c: CheckpointContent): void {
  const plan = planFolderOutput(dir, '--out', {}, (d) => (isCheckpointFolder(d) ? null : 'is not a repgeom checkpoint'));
  const staged = new StagedFolder(plan);
  try {
    const at = (name: string) => join(staged.dir, name);
    const json = (name: string, value: unknown) => writeFileAtomic(at(name), [Buffer.from(`${JSON.stringify(value, null, 2)}\n`)]);
    json('config.json', checkpointConfig(c.model.config, c.model.head, c.labels ?? undefined));
    writeSafetensors(at('model.safetensors'), c.model.params.tensors(), { format: 'pt' });
    for (const f of TOKENIZER_FILES) if (existsSync(join(c.tokenizerDir, f))) copyFileSync(join(c.tokenizerDir, f), at(f));
    const moments: TensorToWrite[] = [];
    for (const [name, { m, v }] of c.optimizer.exportState().moments) {
      moments.push(tensor(`exp_avg.${name}`, m), tensor(`exp_avg_sq.${name}`, v));
    }
    if (c.c0) moments.push({ name: 'istar.c0', dtype: 'F64', shape: [Math.round(Math.sqrt(c.c0.length)), Math.round(Math.sqrt(c.c0.length))], data: c.c0 });
    writeSafetensors(at(OPTIMIZER), moments, { adamStep: String(c.optimizer.step) });
    json(STATE, c.state);
    const files = Object.fromEntries(readdirSync(staged.dir).sort().map((f) => [f, fileDigest(at(f))]));
    json(MANIFEST, { format: 'repgeom-checkpoint', files });
    staged.commit();
  } catch (e) {
    staged.abort();
    throw e;
  }
}

const tensor = (name: string, data: Floats): TensorToWrite => (data instanceof Float64Array ? { name, dtype: 'F64', shape: [data.length], data } : { name, dtype: 'F32', shape: [data.length], data });

function fileDigest(path: string): { bytes: number; sha256: string } {
  const bytes = readFileSync(path);
  return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Refuse a checkpoint whose files are not those it was written with (truncated, edited,
 * removed), naming the first file that differs.
 */
export function verifyCheckpoint(dir: string): void {
  const manifestPath = join(dir, MANIFEST);
  let files: Record<string, { bytes: number; sha256: string }>;
  try {
    files = JSON.parse(readTextFileSync(manifestPath)).files;
    if (typeof files !== 'object' || files === null) throw new Error('no files');
  } catch {
    throw new UserError(`${manifestPath}: the checkpoint's manifest is missing or damaged; the checkpoint cannot be resumed from: remove ${dir} to resume from the one before it`);
  }
  for (const [name, want] of Object.entries(files)) {
    const path = join(dir, name);
    const damaged = !existsSync(path) || statSync(path).size !== want.bytes || fileDigest(path).sha256 !== want.sha256;
    if (damaged) throw new UserError(`${path}: the checkpoint file was changed or damaged after it was written (size or SHA-256 differs from ${MANIFEST}); remove ${dir} to resume from the checkpoint before it`);
  }
}


export function readTrainerState(dir: string): TrainerState {
  return JSON.parse(readTextFileSync(join(dir, STATE))) as TrainerState;
}

/** Restore AdamW's moments (and return C0, if saved) from a verified checkpoint. */
export async function loadOptimizerState(dir: string, optimizer: AdamW): Promise<Float64Array | null> {
  const file = await openSafetensors(join(dir, OPTIMIZER));
  try {
    const moments: AdamWState['moments'] = new Map();
    for (const [name] of optimizer.exportState().moments) {
      const m = (await file.readTensor(`exp_avg.${name}`)).data, v = (await file.readTensor(`exp_avg_sq.${name}`)).data;
      moments.set(name, { m, v });
    }
    optimizer.importState({ step: Number(file.metadata.adamStep), moments });
    return file.entries.some((e) => e.name === 'istar.c0') ? ((await file.readTensor('istar.c0')).data as Float64Array) : null;
  } finally {
    await file.close();
  }
}

/** The checkpoint folders of a run, newest (most steps) first. */
export function checkpointsNewestFirst(checkpointsDir: string): { dir: string; step: number }[] {
  if (!existsSync(checkpointsDir)) return [];
  return readdirSync(checkpointsDir)
    .map((name) => ({ name, m: /^step-(\d+)$/.exec(name) }))
    .filter((e) => e.m !== null)
    .map((e) => ({ dir: join(checkpointsDir, e.name), step: Number(e.m![1]) }))
    .sort((a, b) => b.step - a.step);
}
