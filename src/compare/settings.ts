/**
 * The training settings pooled runs must share. compare puts runs of one task into one mean ± std
 * per λ and one correlation; that only means something when the runs differ in the regularizer,
 * λ and seed alone. Every other option run.json records (train's TrainOptions: model, data, lr,
 * epochs, max length, limits, ...) must agree, except the evaluation, logging and checkpoint
 * cadence, which do not change the final weights. A regularizer's own options (I-STAR's ζ and C0
 * sample, CosReg's layers) must agree among the runs of that regularizer, so I-STAR and CosReg
 * sweeps with the same settings compare together.
 */
import { UserError } from '../errors.js';
import type { RunRecord } from './runs.js';

/** What each run varies by design: the axes compare summarises over. */
export const PER_RUN_OPTIONS = ['reg', 'lambda', 'seed'] as const;
/**
 * Bookkeeping: when to evaluate, log and checkpoint. Evaluation is deterministic and uses no
 * random draw (dropout masks are keyed by step), so none of these changes the final weights or
 * the final evaluation.
 */
export const CADENCE_OPTIONS = ['evalEvery', 'logEvery', 'saveEvery'] as const;
/** Options a regularizer alone reads (run.json records I-STAR's only under --reg istar). */
export const REGULARIZER_OPTIONS: Record<string, readonly string[]> = {
  istar: ['zeta', 'c0Sample', 'istarIncludePadding'],
  cosreg: ['regLayers'],
};

/** The settings shared by a group of runs: every compared option, and each regularizer's own. */
export interface SharedSettings {
  /** option → value (run.json's names and values). */
  options: Record<string, unknown>;
  /** regularizer → its own options' values, for the regularizers among the runs. */
  regularizers: Record<string, Record<string, unknown>>;
}

const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
const text = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
const isRegOption = (key: string) => Object.values(REGULARIZER_OPTIONS).some((keys) => keys.includes(key));

/**
 * The settings `runs` (one task's) share, or a UserError naming the first differing option(s) with
 * two values and two example runs. Runs without options (a sweep's run not started) are skipped.
 * Also refuses one (regularizer, λ, seed) twice: the same run under two folders would count twice.
 */
export function sharedSettings(runs: readonly RunRecord[], task: string): SharedSettings {
  const recorded = runs.filter((r): r is RunRecord & { options: Record<string, unknown> } => r.options !== null);
  const skip = new Set<string>([...PER_RUN_OPTIONS, ...CADENCE_OPTIONS]);
  const keys = [...new Set(recorded.flatMap((r) => Object.keys(r.options)))].filter((k) => !skip.has(k) && !isRegOption(k));
  const options: Record<string, unknown> = {};
  const differing: { key: string; a: RunRecord; b: RunRecord }[] = [];
  const agree = (group: typeof recorded, key: string, into: Record<string, unknown>) => {
    if (group.length === 0) return;
    const first = group[0];
    const other = group.find((r) => JSON.stringify(r.options[key]) !== JSON.stringify(first.options[key]));
    if (other) differing.push({ key, a: first, b: other });
    else into[key] = first.options[key] ?? null;
  };
  for (const key of keys) agree(recorded, key, options);
  const regularizers: Record<string, Record<string, unknown>> = {};
  for (const [reg, regKeys] of Object.entries(REGULARIZER_OPTIONS)) {
    const group = recorded.filter((r) => r.reg === reg);
    if (group.length === 0) continue;
    regularizers[reg] = {};
    for (const key of regKeys) agree(group, key, regularizers[reg]);
  }
  if (differing.length > 0) {
    const { key, a, b } = differing[0];
    const names = differing.map((d) => flagOf(d.key)).join(', ');
    throw new UserError(`the ${task} runs were trained with different settings (${names}): ${flagOf(key)} ${text(a.options![key])} in ${a.folder}, ` +
      `${text(b.options![key])} in ${b.folder}; their metrics do not pool, so compare them separately (one compare per setting)`);
  }
  const seen = new Map<string, RunRecord>();
  for (const r of runs) {
    const id = `${r.reg} ${r.lambda} ${r.seed}`;
    const before = seen.get(id);
    if (before) throw new UserError(`${before.folder} and ${r.folder} are the same run (${r.reg === 'none' ? 'no regularizer' : `${r.reg} λ=${r.lambda}`}, seed ${r.seed}, same settings); it would count twice, so leave one out`);
    seen.set(id, r);
  }
  return { options, regularizers };
}
