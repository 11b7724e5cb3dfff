/**
 * Arrow hidden-state files as a LayerSource. Rows of different layers are interleaved in the
 * file (extract writes every layer of a batch of examples together), so one pass keeps a pending
 * block per requested layer and hands each out when it holds `blockRows` rows: memory is one
 * record batch plus (requested layers × blockRows × d) floats, whatever the file size. Blocks of
 * different layers may therefore alternate; blocks of one layer come in row order.
 */
import type { LayerInfo } from './hidden-states.js';
import type { LayerSource, RawBlock } from './layer-source.js';
import { openArrowStates, type ArrowStates } from './arrow.js';

export async function openArrowSource(path: string): Promise<LayerSource> {
  const states = await openArrowStates(path);
  return {
    format: 'arrow',
    layers: [...states.layerRows].map(([layer, rows]) => ({ layer, name: `layer ${layer}`, rows, cols: states.dim })),
    metadata: states.metadata,
    blocks: (wanted, blockRows) => arrowBlocks(states, wanted, blockRows),
    close: async () => {}, // every pass opens and closes its own file handle
  };
}

interface Pending {
  info: LayerInfo;
  /** Rows of this layer seen so far in the file. */
  seen: number;
  data?: Float32Array;
  filled: number;
}

async function* arrowBlocks(states: ArrowStates, wanted: readonly LayerInfo[], blockRows: number): AsyncGenerator<RawBlock> {
  const d = states.dim;
  const pending = new Map<number, Pending>(wanted.map((info) => [info.layer, { info, seen: 0, filled: 0 }]));
  const take = (p: Pending): RawBlock => {
    const block = { layer: p.info.layer, firstRow: p.seen - p.filled, block: { data: p.data!.subarray(0, p.filled * d), rows: p.filled, cols: d } };
    p.data = undefined;
    p.filled = 0;
    return block;
  };
  for await (const batch of states.batches(new Set(pending.keys()))) {
    for (let r = 0; r < batch.rows; r++) {
      const p = pending.get(batch.layer[r]);
      if (!p) continue;
      // Sized for what is left of the layer, so the last block of a layer is not over-allocated.
      p.data ??= new Float32Array(Math.max(1, Math.min(blockRows, p.info.rows - p.seen)) * d);
      p.data.set(batch.vectors.subarray(r * d, (r + 1) * d), p.filled * d);
      p.filled++;
      p.seen++;
      if (p.filled * d === p.data.length) yield take(p);
    }
  }
  for (const p of pending.values()) if (p.filled > 0) yield take(p);
}
