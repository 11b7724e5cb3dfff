/**
 * The config.json a trained model is saved with, so that transformers' `from_pretrained` (and
 * AutoModelFor… classes) build the right head: the checkpoint's own config with `architectures`
 * naming the head class, and for classification `id2label`/`label2id` (which set num_labels)
 * and `problem_type` ('regression' for one output, as STS-B).
 */
import type { EncoderConfig, ModelType } from './config.js';
import type { HeadKind } from './trainable.js';

/** transformers' class-name stem per model_type. */
const CLASS_STEM: Record<ModelType, string> = {
  bert: 'Bert', roberta: 'Roberta', 'xlm-roberta': 'XLMRoberta', camembert: 'Camembert', distilbert: 'DistilBert', albert: 'Albert',
};

/** `labels`: the class names in id order (default LABEL_0, LABEL_1, … as transformers names them). */
export function checkpointConfig(config: EncoderConfig, head: HeadKind, labels?: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config.raw };
  const stem = CLASS_STEM[config.modelType];
  if (head.kind === 'mlm') {
    out.architectures = [`${stem}ForMaskedLM`];
    return out;
  }
  const count = head.kind === 'regression' ? 1 : head.labels;
  const names = labels ?? Array.from({ length: count }, (_, i) => `LABEL_${i}`);
  if (names.length !== count) throw new RangeError(`${names.length} label names for a head of ${count} outputs`);
  out.architectures = [`${stem}ForSequenceClassification`];
  out.id2label = Object.fromEntries(names.map((n, i) => [String(i), n]));
  out.label2id = Object.fromEntries(names.map((n, i) => [n, i]));
  out.problem_type = head.kind === 'regression' ? 'regression' : 'single_label_classification';
  return out;
}
