/**
 * Builds data/demo/clouds.npy, the embedded default input of `npm start`: a seeded, synthetic
 * stand-in for the hidden states of a 4-layer model (2,000 points × 64 dimensions per layer),
 * float32, shape (4, 2000, 64). Layer by layer it drifts the way contextual embeddings are
 * reported to (Ethayarajh 2019; Timkey & van Schijndel 2021): a growing common offset in one
 * "rogue" dimension (raising mean cosine), a faster-decaying spectrum (lowering IsoScore) and
 * points drawn from a lower-dimensional subspace plus noise (lowering intrinsic dimension).
 *
 *     node --import tsx scripts/make-demo-data.ts      (rewrites the file byte for byte)
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeNpy } from '../src/io/npy.js';
import { Rng } from '../src/metrics/sample.js';

const LAYERS = 4, POINTS = 2000, DIM = 64, ROGUE = 17;
const uniform = new Rng(20261124);
/** Standard normal draws by Box–Muller from the project's seeded generator. */
const rng = { normal: () => Math.sqrt(-2 * Math.log(1 - uniform.nextFloat())) * Math.cos(2 * Math.PI * uniform.nextFloat()) };

const data = new Float32Array(LAYERS * POINTS * DIM);
for (let layer = 0; layer < LAYERS; layer++) {
  const latent = [64, 32, 16, 8][layer];          // dimension of the subspace the points live on
  const decay = 0.02 + 0.06 * layer;              // spectrum decay per latent direction
  const offset = 6 * layer;                        // common offset in the rogue dimension
  // A random map from the latent space into R^64 with decaying scales.
  const map = new Float64Array(latent * DIM);
  for (let k = 0; k < latent; k++) {
    const scale = Math.exp(-decay * k);
    for (let j = 0; j < DIM; j++) map[k * DIM + j] = (rng.normal() * scale) / Math.sqrt(DIM);
  }
  for (let i = 0; i < POINTS; i++) {
    const z = Array.from({ length: latent }, () => rng.normal());
    const row = (layer * POINTS + i) * DIM;
    for (let j = 0; j < DIM; j++) {
      let v = 0.05 * rng.normal();
      for (let k = 0; k < latent; k++) v += z[k] * map[k * DIM + j];
      data[row + j] = v + (j === ROGUE ? offset : 0);
    }
  }
}
const out = resolve(import.meta.dirname, '..', 'data', 'demo', 'clouds.npy');
mkdirSync(resolve(out, '..'), { recursive: true });
writeNpy(out, data, [LAYERS, POINTS, DIM]);
console.log(`wrote ${out}`);
