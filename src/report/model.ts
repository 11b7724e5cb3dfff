/**
 * The report model: everything `repgeom report` writes to `report.json`, and the only input of
 * the CSV and HTML writers. One row per (checkpoint, layer); layer numbering as Hugging Face
 * (0 = embedding output). A metric that was not computed is `null`, never 0.
 */
import type { LayerMeasures } from '../metrics/measure.js';
import type { RogueDimension } from '../metrics/rogue.js';

export interface ReportCheckpoint {
  /** Short label used in charts and tables (the folder name, made unique). */
  name: string;
  /** The model folder, or null when the report was made from a states file. */
  path: string | null;
  /** The Arrow file the numbers come from, relative to the report folder when it lies inside. */
  states: string;
  modelType: string | null;
  /** Number of hidden-state layers measured (L + 1 for a full extraction). */
  layers: number;
  dim: number;
}

export interface ReportRow {
  checkpoint: string;
  layer: number;
  points: number;
  dim: number;
  isoscore: number | null;
  isoscoreStar: number | null;
  /** Mean pairwise cosine over i ≠ j (Ethayarajh's anisotropy baseline). */
  meanCosine: number | null;
  partitionIsotropy: number | null;
  twoNN: number | null;
  /** Standard deviation of TwoNN over random 90% subsets (Ansuini et al.); null when not run. */
  twoNNStd: number | null;
  mle: number | null;
  pcaId90: number | null;
  pcaId99: number | null;
  participationRatio: number | null;
  /** Ethayarajh (2019) self-similarity: mean over word types of the mean pairwise cosine of their occurrences. */
  selfSimilarity: number | null;
  /** The same minus the layer's mean cosine (anisotropy-adjusted, as in the paper). */
  selfSimilarityAdjusted: number | null;
  /** Ethayarajh's intra-sentence similarity: mean cosine of each token with its sentence's mean vector. */
  intraSentenceSimilarity: number | null;
  intraSentenceSimilarityAdjusted: number | null;
}

export interface ReportLayerDetail {
  checkpoint: string;
  layer: number;
  /** Eigenvalues of the ddof=1 covariance, descending (at most min(N, d)). */
  spectrum: number[];
  rogueDimensions: RogueDimension[];
}

export interface ReportData {
  /** The data file or folder, or the states file. */
  path: string;
  task: string | null;
  split: string | null;
  examples: number | null;
  /** Token selection of the extraction: all (non-padding tokens), cls or mean. */
  tokens: 'all' | 'cls' | 'mean' | null;
  maxLength: number | null;
}

export interface Report {
  version: string;
  /** ISO 8601 time the report was made. */
  created: string;
  title: string;
  backend: string;
  /** The matrix products' implementation and threads, e.g. "openblas 0.3.21, 2 threads". */
  productsBackend: string;
  data: ReportData;
  /** Options of the measurement (zeta, sample, seed, …) as given. */
  options: Record<string, unknown>;
  checkpoints: ReportCheckpoint[];
  rows: ReportRow[];
  details: ReportLayerDetail[];
  /** The full `measure` output per checkpoint (same keys as `repgeom measure --format json`). */
  measures: Record<string, LayerMeasures[]>;
  /** Notes shown on the page (e.g. why self-similarity is absent). */
  notes: string[];
}
