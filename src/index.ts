/** The repgeom library: `import { isoScore, isoScoreStar, twoNN } from 'repgeom'`. */
export type { Matrix, FloatArray } from './backend/matrix.js';
export { matrix, sliceRows, takeRows } from './backend/matrix.js';
export { UserError } from './errors.js';
export { getTf, requestBackend, BACKEND_CHOICES, type BackendChoice, type Tf } from './backend/tf.js';

export { CovarianceAccumulator, accumulate, columnMeans, type ProductKernel } from './metrics/covariance.js';
export { isoScore, isoScoreFromMoments, isoScoreOfCovariance, traceAndFrobenius2, type IsoScoreResult } from './metrics/isoscore.js';
export { isoScoreStar, isoScoreStarOfCovariance, isoScoreStarLoss, validateC0, type C0 } from './metrics/isoscore-star.js';
export { cosineIsotropy, CosineAccumulator, type CosineResult } from './metrics/cosine.js';
export { partitionIsotropy, PartitionAccumulator, partitionDirections } from './metrics/partition.js';
export { rogueDimensions, type RogueDimension } from './metrics/rogue.js';
export { symmetricEigen, topEigenvectors } from './metrics/eigen.js';
export { covarianceSpectrum, explainedVarianceRatio } from './metrics/spectrum.js';
export { pcaId, type PcaIdResult } from './metrics/pca-id.js';
export { twoNN, type TwoNNResult, type TwoNNOptions } from './metrics/twonn.js';
export { mle, type MleResult, type MleOptions } from './metrics/mle.js';
export { knn, knnBruteForce, type KnnResult } from './metrics/knn.js';
export { Rng, sampleRows, RowReservoir } from './metrics/sample.js';
export { fitTransform, parseTransform, type TransformSpec, type FittedTransform } from './metrics/transforms.js';
export { measure, METRICS, type MetricName, type MeasureOptions, type MeasureResult, type LayerMeasures } from './metrics/measure.js';

export { openHiddenStates, type HiddenStates, type LayerInfo } from './io/hidden-states.js';
export { readNpy, writeNpy } from './io/npy.js';
export { readNpz, writeNpz } from './io/npz.js';
export { openSafetensors, writeSafetensors } from './io/safetensors.js';
export { createArrowWriter } from './io/arrow.js';
