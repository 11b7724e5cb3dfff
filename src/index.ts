/** The repgeom library: `import { isoScore, isoScoreStar, twoNN } from 'repgeom'`. */
export type { Matrix, FloatArray } from './backend/matrix.js';
export { matrix, sliceRows, takeRows } from './backend/matrix.js';
export { UserError, MetricUndefined } from './errors.js';
export { getTf, requestBackend, BACKEND_CHOICES, type BackendChoice, type Tf } from './backend/tf.js';

export { CovarianceAccumulator, accumulate, columnMeans, type ProductKernel } from './metrics/covariance.js';
export { FLOAT32, FLOAT64, productKernel } from './metrics/product-kernel.js';
export { gemm, syrk, dgemm, dsyrk, configureProducts, useProducts, describeProducts, productsNote, type Products } from './backend/products/index.js';
export { isoScore, isoScoreFromMoments, isoScoreOfCovariance, traceAndFrobenius2, type IsoScoreResult } from './metrics/isoscore.js';
export { isoScoreStar, isoScoreStarOfCovariance, isoScoreStarFromMoments, isoScoreStarTf, validateC0, type C0, type IsoScoreStarMoments } from './metrics/isoscore-star.js';
export { GramMoments, PointStore } from './metrics/gram.js';
export { cosineIsotropy, CosineAccumulator, type CosineResult } from './metrics/cosine.js';
export { partitionIsotropy, PartitionAccumulator, partitionDirections } from './metrics/partition.js';
export { rogueDimensions, type RogueDimension } from './metrics/rogue.js';
export { symmetricEigen, topEigenvectors } from './metrics/eigen.js';
export { covarianceSpectrum, explainedVarianceRatio } from './metrics/spectrum.js';
export { pcaId, type PcaIdResult } from './metrics/pca-id.js';
export { twoNN, type TwoNNResult, type TwoNNOptions } from './metrics/twonn.js';
export { mle, type MleResult, type MleOptions } from './metrics/mle.js';
export { knn, knnBruteForce, type KnnResult } from './metrics/knn.js';
export { Rng, type RngState } from './backend/rng.js';
export { sampleRows, RowReservoir } from './metrics/sample.js';
export { fitTransform, parseTransform, type TransformSpec, type FittedTransform } from './metrics/transforms.js';
export { ContextualAccumulator, type ContextualResult } from './metrics/contextual.js';
export { measure, METRICS, type MetricName, type MeasureOptions, type MeasureResult, type LayerMeasures, type LayerMetricValues } from './metrics/measure.js';

export { openHiddenStates, hiddenStatesFromArrays, type HiddenStates, type LayerInfo } from './io/hidden-states.js';
export { readNpy, readNpyInt32, writeNpy } from './io/npy.js';
export { readNpz, writeNpz } from './io/npz.js';
export { openSafetensors, writeSafetensors } from './io/safetensors.js';
export { createArrowWriter } from './io/arrow.js';
export { readDataset, detectTask, TASKS, type Dataset, type TaskName } from './io/datasets.js';

export { readConfig, type EncoderConfig, type ModelType } from './models/config.js';
export { loadWeights, type EncoderWeights } from './models/weights.js';
export { initialBertTensors, type BertShape } from './models/init.js';
export { TENSOR_NAMES, tensorSpecs, type TensorSpec, type HeadChoice } from './models/tensor-names.js';
export { TrainableModel, dropoutRates, type HeadKind, type TrainingBatch, type ForwardPass, type DropoutRates } from './models/trainable.js';
export { Parameters, type Parameter } from './models/parameters.js';
export { checkpointConfig } from './models/checkpoint-config.js';
export { IStar, type IStarOptions } from './regularizers/istar.js';
export { CosReg, type CosRegOptions } from './regularizers/cosreg.js';
export type { Regularizer, PenaltyResult, EpochRefresh } from './regularizers/regularizer.js';
export { trainStep, createOptimizer, refreshRegularizer, type StepOptions, type StepResult, type OptimizerOptions } from './train/step.js';
export { AdamW, clipGradNorm } from './train/optimizer.js';
export { Encoder, type EncoderInputs, type ForwardOptions, type ForwardResult } from './models/encoder.js';
export { EncoderPool } from './models/encoder-pool.js';
export { loadTokenizer, type Tokenizer, type TextExample, type EncodedBatch } from './models/tokenizer.js';
export { extractToFile, extractHiddenStates, TOKEN_SELECTIONS, type ExtractOptions, type ExtractSummary, type TokenSelection } from './models/extract.js';

export { buildReport, type CheckpointStates } from './report/build.js';
export { writeReport } from './report/write.js';
export { reportHtml } from './report/html.js';
export type { Report, ReportRow, ReportCheckpoint, ReportLayerDetail, ReportData } from './report/model.js';

export { isFinishedRun, lastEvaluation, type LastEvaluation } from './train/run-folder.js';
export { runFoldersOf, readRun, type RunRecord, type RunRef } from './compare/runs.js';
export { buildComparison, type Comparison, type TaskComparison } from './compare/model.js';
export { correlation, type Correlation, type BootstrapSettings } from './compare/stats.js';
export { writeCompareFolder } from './compare/write.js';
export { runCompare, type CompareOptions } from './compare/run.js';
export { sharedSettings, type SharedSettings } from './compare/settings.js';
