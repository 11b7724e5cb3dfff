/**
 * The common shape of a representation regularizer (I-STAR, CosReg): which hidden states it
 * reads (HF numbering), its penalty on a batch's states with the gradient with respect to each
 * state it read (injected into the model's backward), and what it refreshes per epoch.
 *
 * The penalty acts on one cloud of points: the rows of the layers it reads, layer after layer,
 * at the batch's token positions (padding excluded unless `includePadding`, the released
 * I-STAR code's behaviour).
 */
import { check } from '../errors.js';
export interface PenaltyResult {
  /** λ·(the regularizer's term): what is added to the task loss. */
  loss: number;
  /** The measured quantity itself (IsoScore⋆, or CosReg's R), λ = 0 included. */
  value: number;
  /** Points in the cloud. */
  points: number;
  /** d loss / d hidden_states[i] for every i it read ([B·T, H]); null elsewhere. */
  hiddenGrads: (Float32Array | null)[];
}

/** Takes eval-mode states of whole batches at the start of an epoch; says when it has enough. */
export interface EpochRefresh {
  /** Add a batch's states; returns false once no more are needed. */
  add(hiddenStates: Float32Array[], attentionMask: Int32Array): boolean;
  /** Install what was gathered. */
  finish(): void;
}

export interface Regularizer {
  readonly name: 'istar' | 'cosreg';
  readonly lambda: number;
  /** Hidden states read (HF numbering). */
  readonly layers: readonly number[];
  readonly includePadding: boolean;
  penalty(hiddenStates: Float32Array[], attentionMask: Int32Array): PenaltyResult;
  /** d loss / d points of a cloud [n, d] (float64 arithmetic). */
  cloudGradient(points: Float32Array | Float64Array, n: number, d: number): Float64Array;
  /** Per-epoch state to recompute (I-STAR's C0), if any. */
  beginRefresh?(): EpochRefresh;
}

/** The rows of the cloud: position indices of each layer's [B·T, H] state that take part. */
export function cloudRows(attentionMask: Int32Array, includePadding: boolean): number[] {
  const rows: number[] = [];
  for (let i = 0; i < attentionMask.length; i++) if (includePadding || attentionMask[i]) rows.push(i);
  return rows;
}

/** The cloud [layers·rows, H] in float64. */
export function gatherCloud(states: Float32Array[], layers: readonly number[], rows: number[], H: number): Float64Array {
  const out = new Float64Array(layers.length * rows.length * H);
  let k = 0;
  for (const l of layers) {
    const s = states[l];
    if (!s) throw new RangeError(`no hidden state ${l} (the model has ${states.length - 1} layers)`);
    for (const r of rows) for (let j = 0; j < H; j++) out[k++] = s[r * H + j];
  }
  return out;
}

/** The cloud's gradient back onto the states it came from (zeros at the other positions). */
export function scatterCloud(grad: Float64Array, states: number, layers: readonly number[], rows: number[], H: number, size: number): (Float32Array | null)[] {
  const out: (Float32Array | null)[] = Array.from({ length: states }, () => null);
  let k = 0;
  for (const l of layers) {
    const g = (out[l] ??= new Float32Array(size));
    for (const r of rows) for (let j = 0; j < H; j++) g[r * H + j] += grad[k++];
  }
  return out;
}

export function checkLambda(lambda: number): void {
  check(Number.isFinite(lambda), `--lambda must be a finite number, got ${lambda}`);
}
