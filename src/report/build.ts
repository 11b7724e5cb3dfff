/**
 * Build the report model from hidden-state files: the same `measure` pass as `repgeom measure`
 * (so the numbers are identical for the same flags), plus Ethayarajh's contextuality measures
 * from token-level rows, flattened into one row per (checkpoint, layer).
 */
import * as path from 'node:path';
import { openHiddenStates } from '../io/hidden-states.js';
import { describeProducts } from '../backend/products/index.js';
import { openArrowStates } from '../io/arrow.js';
import { measure, type LayerMeasures, type MeasureOptions } from '../metrics/measure.js';
import { ContextualAccumulator, type ContextualResult } from '../metrics/contextual.js';
import type { Report, ReportCheckpoint, ReportData, ReportLayerDetail, ReportRow } from './model.js';

export interface CheckpointStates {
  name: string;
  /** The model folder, or null for a states file given directly. */
  modelPath: string | null;
  modelType: string | null;
  /** The Arrow (or other hidden-state) file. */
  states: string;
}

export interface BuildReportInput {
  title: string;
  version: string;
  reportDir: string;
  data: ReportData;
  checkpoints: CheckpointStates[];
  measureOptions: Omit<MeasureOptions, 'onProgress'>;
  /** Options recorded in report.json. */
  options: Record<string, unknown>;
  onProgress?: (label: string, done: number, total: number) => void;
}

export async function buildReport(input: BuildReportInput): Promise<Report> {
  const rows: ReportRow[] = [];
  const details: ReportLayerDetail[] = [];
  const measures: Record<string, LayerMeasures[]> = {};
  const checkpoints: ReportCheckpoint[] = [];
  const notes: string[] = [];
  let backend = 'js';
  for (const cp of input.checkpoints) {
    const hs = await openHiddenStates(cp.states);
    let result;
    try {
      result = await measure(hs, { ...input.measureOptions, onProgress: (pass, done, total) => input.onProgress?.(`${cp.name} ${pass}`, done, total) });
    } finally {
      await hs.close();
    }
    if (result.backend !== 'js') backend = result.backend;
    const contextual = await contextualMeasures(cp.states, result.layers.map((l) => l.layer), notes, (done, total) => input.onProgress?.(`${cp.name} self-similarity`, done, total));
    measures[cp.name] = result.layers;
    const relative = path.relative(input.reportDir, cp.states);
    checkpoints.push({
      name: cp.name, path: cp.modelPath,
      states: relative.startsWith('..') || path.isAbsolute(relative) ? cp.states : relative,
      modelType: cp.modelType, layers: result.layers.length, dim: result.layers[0]?.dim ?? 0,
    });
    for (const l of result.layers) {
      notes.push(...undefinedNotes(cp.name, l));
      rows.push(reportRow(cp.name, l, contextual?.get(l.layer) ?? null));
      details.push({ checkpoint: cp.name, layer: l.layer, spectrum: l.spectrum ?? [], rogueDimensions: l.rogueDimensions ?? [] });
    }
  }
  const o = input.measureOptions;
  if (o.metrics.has('isoscore-star') && o.c0.kind === 'self' && o.batchRows === null) {
    notes.push('With C0 = the layer\'s own covariance and the whole layer as the batch (--c0 self, no --batch-rows), Σ = C and IsoScore⋆ equals IsoScore; give --batch-rows or --c0-points for the shrinkage estimate of Rudman & Eickhoff (2024).');
  }
  return {
    version: input.version, created: new Date().toISOString(), title: input.title, backend, productsBackend: describeProducts(), data: input.data,
    options: input.options, checkpoints, rows, details, measures, notes: [...new Set(notes)],
  };
}

/** One note per reason a metric is null on a layer (several metrics may share a reason). */
function undefinedNotes(checkpoint: string, l: LayerMeasures): string[] {
  const byReason = new Map<string, string[]>();
  for (const [key, reason] of Object.entries(l.undefinedMetrics ?? {})) byReason.set(reason, [...(byReason.get(reason) ?? []), key]);
  return [...byReason].map(([reason, keys]) => `${checkpoint}, layer ${l.layer}: ${keys.join(', ')} ${keys.length === 1 ? 'is' : 'are'} undefined (left empty): ${reason}`);
}

function reportRow(checkpoint: string, l: LayerMeasures, ctx: ContextualResult | null): ReportRow {
  const meanCosine = l.cosine?.meanPairwise ?? null;
  const adjusted = (v: number | null | undefined) => (v == null || meanCosine === null ? null : v - meanCosine);
  return {
    checkpoint, layer: l.layer, points: l.points, dim: l.dim,
    isoscore: l.isoscore ?? null,
    isoscoreStar: l.isoscoreStar?.value ?? null,
    meanCosine,
    partitionIsotropy: l.partitionIsotropy ?? null,
    twoNN: l.twoNN?.id ?? null,
    twoNNStd: l.twoNN?.subsets?.std ?? null,
    mle: l.mle?.id ?? null,
    pcaId90: l.pcaId?.ratio90 ?? null,
    pcaId99: l.pcaId?.ratio99 ?? null,
    participationRatio: l.participationRatio ?? l.pcaId?.participationRatio ?? null,
    selfSimilarity: ctx?.selfSimilarity ?? null,
    selfSimilarityAdjusted: adjusted(ctx?.selfSimilarity),
    intraSentenceSimilarity: ctx?.intraSentenceSimilarity ?? null,
    intraSentenceSimilarityAdjusted: adjusted(ctx?.intraSentenceSimilarity),
  };
}

/**
 * Self-similarity and intra-sentence similarity per layer, when the file holds token-level rows
 * (an Arrow file from `extract --tokens all`); otherwise null with a note saying why.
 */
async function contextualMeasures(
  statesPath: string, layers: number[], notes: string[], onProgress: (done: number, total: number) => void,
): Promise<Map<number, ContextualResult> | null> {
  if (!statesPath.endsWith('.arrow')) {
    notes.push('Self-similarity and intra-sentence similarity need token-level rows with example and token ids (an Arrow file from `repgeom extract --tokens all`).');
    return null;
  }
  const states = await openArrowStates(statesPath);
  const tokens = states.metadata['repgeom.tokens'];
  if (tokens !== undefined && tokens !== 'all') {
    notes.push(`Self-similarity and intra-sentence similarity need every token; these states hold one '${tokens}' vector per example.`);
    return null;
  }
  const out = new Map<number, ContextualResult>();
  const total = layers.reduce((s, l) => s + (states.layerRows.get(l) ?? 0), 0);
  let done = 0;
  for (const layer of layers) {
    const acc = new ContextualAccumulator(states.dim);
    for await (const batch of states.batches(new Set([layer]))) {
      if (!batch.example || !batch.tokenId) {
        notes.push('Self-similarity and intra-sentence similarity need the example and token_id columns, which this Arrow file lacks.');
        return null;
      }
      // Batches may mix layers (files not written by extract): keep this layer's rows only.
      let rows = 0;
      const keep: number[] = [];
      for (let r = 0; r < batch.rows; r++) if (batch.layer[r] === layer) keep.push(r);
      if (keep.length === batch.rows) {
        acc.add(batch.example, batch.tokenId, batch.vectors, batch.rows);
        rows = batch.rows;
      } else if (keep.length > 0) {
        const d = states.dim;
        const vectors = new Float32Array(keep.length * d);
        keep.forEach((r, i) => vectors.set(batch.vectors.subarray(r * d, (r + 1) * d), i * d));
        acc.add(keep.map((r) => batch.example![r]), keep.map((r) => batch.tokenId![r]), vectors, keep.length);
        rows = keep.length;
      }
      done += rows;
      onProgress(done, total);
    }
    out.set(layer, acc.result());
  }
  notes.push('Self-similarity (Ethayarajh 2019) is averaged over vocabulary ids (word pieces) with at least 5 occurrences; "adjusted" values subtract the layer\'s mean pairwise cosine.');
  return out;
}
