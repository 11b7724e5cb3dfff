/**
 * The GLUE task metrics, as Hugging Face's `glue` metric computes them (scikit-learn and SciPy
 * underneath): accuracy; F1 of the positive class (label 1) for MRPC and QQP; Matthews
 * correlation for CoLA; Pearson and Spearman correlation for STS-B. Every value is a fraction, as
 * the task has it. Sums are in float64.
 */

export function accuracy(gold: ArrayLike<number>, predicted: ArrayLike<number>): number {
  checkSameLength(gold, predicted);
  let right = 0;
  for (let i = 0; i < gold.length; i++) if (gold[i] === predicted[i]) right++;
  return right / gold.length;
}

/** F1 of class 1 (sklearn f1_score, binary average; 0 when there is no true or predicted positive). */
export function f1(gold: ArrayLike<number>, predicted: ArrayLike<number>): number {
  checkSameLength(gold, predicted);
  let tp = 0, fp = 0, fn = 0;
  for (let i = 0; i < gold.length; i++) {
    if (predicted[i] === 1 && gold[i] === 1) tp++;
    else if (predicted[i] === 1) fp++;
    else if (gold[i] === 1) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/**
 * Matthews correlation coefficient, multiclass form (sklearn matthews_corrcoef, Gorodkin 2004):
 * (c·s − Σ p_k t_k) / √((s² − Σ p_k²)(s² − Σ t_k²)); 0 when a denominator factor is 0.
 */
export function matthews(gold: ArrayLike<number>, predicted: ArrayLike<number>): number {
  checkSameLength(gold, predicted);
  const t = new Map<number, number>(), p = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < gold.length; i++) {
    t.set(gold[i], (t.get(gold[i]) ?? 0) + 1);
    p.set(predicted[i], (p.get(predicted[i]) ?? 0) + 1);
    if (gold[i] === predicted[i]) correct++;
  }
  const s = gold.length;
  let pt = 0, pp = 0, tt = 0;
  for (const [k, tk] of t) { pt += tk * (p.get(k) ?? 0); tt += tk * tk; }
  for (const pk of p.values()) pp += pk * pk;
  const denominator = Math.sqrt((s * s - pp) * (s * s - tt));
  return denominator === 0 ? 0 : (correct * s - pt) / denominator;
}

/** Pearson's r (scipy.stats.pearsonr), with the means subtracted first for accuracy. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength(x, y);
  const n = x.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
  mx /= n; my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** Spearman's ρ (scipy.stats.spearmanr): Pearson's r of the ranks, ties given their average rank. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength(x, y);
  return pearson(averageRanks(x), averageRanks(y));
}

/** 1-based ranks; tied values share the mean of the ranks they span (scipy.stats.rankdata 'average'). */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(values.length);
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end++;
    const rank = (start + end + 1) / 2; // mean of the 1-based ranks start+1 .. end
    for (let i = start; i < end; i++) ranks[order[i]] = rank;
    start = end;
  }
  return ranks;
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length || a.length === 0) throw new RangeError(`task metrics: ${a.length} gold values and ${b.length} predictions`);
}
