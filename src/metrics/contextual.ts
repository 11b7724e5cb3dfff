/**
 * Contextuality measures of Ethayarajh, "How Contextual are Contextualized Word
 * Representations?" (EMNLP 2019), from token-level hidden states of one layer.
 *
 * - Self-similarity of a word type w with occurrences u₁…uₙ (unit vectors):
 *   SelfSim(w) = 1/(n² − n) Σ_{j≠k} cos(u_j, u_k) = (‖Σ u‖² − n)/(n(n − 1)), exact in O(n·d).
 *   The layer's value is the mean over word types with at least `minOccurrences` occurrences
 *   (the paper keeps words that appear in at least 5 contexts).
 * - Intra-sentence similarity of a sentence with token vectors x₁…xₙ and mean s̄:
 *   IntraSim(s) = 1/n Σᵢ cos(s̄, xᵢ); the layer's value is the mean over sentences.
 * Both are reported raw and "anisotropy-adjusted": minus the layer's mean pairwise cosine
 * between random tokens, as the paper does with its baseline.
 *
 * Word type here = vocabulary id (a WordPiece/BPE piece), as the Arrow rows carry ids; the paper
 * used whole words. Zero vectors have cosine 0 with everything (the cosine module's convention).
 */
import { check } from '../errors.js';

export interface ContextualResult {
  /** Mean self-similarity over word types with ≥ minOccurrences occurrences; null if there are none. */
  selfSimilarity: number | null;
  wordTypes: number;
  minOccurrences: number;
  /** Mean intra-sentence similarity over sentences with at least 2 tokens; null if none. */
  intraSentenceSimilarity: number | null;
  sentences: number;
}

/** Streaming accumulator over rows (example id, token id, vector) of one layer, in any order. */
export class ContextualAccumulator {
  private readonly types = new Map<number, { sum: Float64Array; count: number; nonZero: number }>();
  private readonly sentences = new Map<number, { sum: Float64Array; units: Float64Array; count: number }>();

  constructor(readonly dim: number, readonly minOccurrences = 5) {
    check(Number.isInteger(minOccurrences) && minOccurrences >= 2, `self-similarity needs minOccurrences ≥ 2, got ${minOccurrences}`);
  }

  add(example: ArrayLike<number>, tokenId: ArrayLike<number>, vectors: ArrayLike<number>, rows: number): void {
    const d = this.dim;
    const unit = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      let norm2 = 0;
      for (let k = 0; k < d; k++) {
        const v = vectors[r * d + k];
        norm2 += v * v;
      }
      const scale = norm2 > 0 ? 1 / Math.sqrt(norm2) : 0;
      for (let k = 0; k < d; k++) unit[k] = vectors[r * d + k] * scale;

      let t = this.types.get(tokenId[r]);
      if (!t) this.types.set(tokenId[r], (t = { sum: new Float64Array(d), count: 0, nonZero: 0 }));
      for (let k = 0; k < d; k++) t.sum[k] += unit[k];
      t.count++;
      if (scale > 0) t.nonZero++;

      // IntraSim needs Σ cos(s̄, xᵢ) = ⟨s̄/‖s̄‖, Σ uᵢ⟩: keep Σ x (for s̄) and Σ u per sentence.
      let s = this.sentences.get(example[r]);
      if (!s) this.sentences.set(example[r], (s = { sum: new Float64Array(d), units: new Float64Array(d), count: 0 }));
      for (let k = 0; k < d; k++) {
        s.sum[k] += vectors[r * d + k];
        s.units[k] += unit[k];
      }
      s.count++;
    }
  }

  result(): ContextualResult {
    let selfTotal = 0, wordTypes = 0;
    for (const { sum, count, nonZero } of this.types.values()) {
      if (count < this.minOccurrences) continue;
      // ‖Σu‖² holds each ‖u‖² = 1 once; a zero vector adds nothing but counts as an occurrence.
      selfTotal += (dot(sum, sum) - nonZero) / (count * (count - 1));
      wordTypes++;
    }
    let intraTotal = 0, sentences = 0;
    for (const { sum, units, count } of this.sentences.values()) {
      if (count < 2) continue;
      const norm = Math.sqrt(dot(sum, sum));
      intraTotal += norm > 0 ? dot(sum, units) / norm / count : 0;
      sentences++;
    }
    return {
      selfSimilarity: wordTypes > 0 ? selfTotal / wordTypes : null,
      wordTypes,
      minOccurrences: this.minOccurrences,
      intraSentenceSimilarity: sentences > 0 ? intraTotal / sentences : null,
      sentences,
    };
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k] * b[k];
  return s;
}
