/**
 * Dataset readers: every GLUE task of ../shared/data/glue with row counts, first and last
 * examples and label totals verified independently with awk/wc on the files; the TSV rules (BOM,
 * literal quotes, malformed rows, header columns by name, CRLF); text and JSONL; every error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../src/errors.js';
import { TASKS, detectTask, readDataset, type Dataset } from '../src/io/datasets.js';
import { SHARED } from './helpers/fixtures.js';
import { throwsUser } from './helpers/errors.js';

const GLUE = path.resolve(SHARED, 'data', 'glue');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repgeom-datasets-'));

/** Write `content` to a file under the temp dir (creating folders) and return its path. */
function write(name: string, content: string): string {
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}


const sum = (labels: (number | null)[] | null): number => labels!.reduce<number>((a, b) => a + (b ?? NaN), 0);

interface GlueCase {
  folder: string;
  file: string;
  task: string;
  /** Data rows: `wc -l` (+1 for CoLA dev, which lacks a final newline) minus header minus malformed rows. */
  count: number;
  first: [string, string | undefined, number];
  last: [string, string | undefined, number];
  /** Sum of the labels (awk over the label column): the count of class 1, or the STS-B score total. */
  labelSum: number;
}

const CASES: GlueCase[] = [
  {
    folder: 'SST-2', file: 'dev.tsv', task: 'sst2', count: 872, labelSum: 444,
    first: ["it 's a charming and often affecting journey . ", undefined, 1],
    last: ["looking aristocratic , luminous yet careworn in jane hamilton 's exemplary costumes , rampling gives a performance that could not be improved upon . ' ", undefined, 1],
  },
  {
    folder: 'CoLA', file: 'dev.tsv', task: 'cola', count: 1043, labelSum: 721,
    first: ['The sailors rode the breeze clear of the rocks.', undefined, 1],
    last: ['John talked to Bill about himself.', undefined, 1],
  },
  {
    folder: 'MRPC', file: 'dev.tsv', task: 'mrpc', count: 408, labelSum: 279,
    first: ["He said the foodservice pie business doesn 't fit the company 's long-term growth strategy .", '" The foodservice pie business does not fit our long-term growth strategy .', 1],
    last: ["Ex-KGB agent Putin added that the Beatles were considered ' propaganda of an alien ideology ' .", 'In Soviet times the Beatles \' music " was considered propaganda of an alien ideology .', 1],
  },
  {
    folder: 'RTE', file: 'dev.tsv', task: 'rte', count: 277, labelSum: 131,
    first: ['Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, according to the Christopher Reeve Foundation.', 'Christopher Reeve had an accident.', 1],
    last: [
      'Danny Kennedy, Greenpeace campaigns director, said: "The burden of proof in the Scott Parkin expulsion case lies morally with the Commonwealth, to prove that he is a danger. When the Government brought in anti-terror legislation, they promised the public that these laws would only be used to confront a real and present risk of a terrorist attack, not a sweep-all approach against citizens. Peace is not terrorism. Peace is not a threat to national security. No democratic government should expel a foreign citizen because [it] opposes his political opinions."',
      'Greenpeace director said that peace is terrorism.', 1,
    ],
  },
  {
    folder: 'WNLI', file: 'dev.tsv', task: 'wnli', count: 71, labelSum: 31,
    first: ['The drain is clogged with hair. It has to be cleaned.', 'The hair has to be cleaned.', 0],
    last: ['George got free tickets to the play, but he gave them to Eric, because he was not particularly eager to see it.', 'Eric was not particularly eager to see it.', 0],
  },
  {
    folder: 'QNLI', file: 'dev.tsv', task: 'qnli', count: 5463, labelSum: 2761,
    first: ['What came into force after the new constitution was herald?', 'As of that day, the new constitution heralding the Second Republic came into force.', 0],
    last: [
      'Who discovered this and where did they come from?',
      'The development of this fertile soil allowed agriculture and silviculture in the previously hostile environment; meaning that large portions of the Amazon rainforest are probably the result of centuries of human management, rather than naturally occurring as has previously been supposed.', 1,
    ],
  },
  {
    folder: 'QQP-subset', file: 'qqp_subset.tsv', task: 'qqp', count: 23496, labelSum: 8747,
    first: ['What causes stool color to change to yellow?', 'What can cause stool to come out as little balls?', 0],
    last: ['How can I avoid daydreaming?', 'How do I stop daydreaming? And concentrate on reality?', 1],
  },
  {
    folder: 'STS-B', file: 'dev.tsv', task: 'stsb', count: 1500, labelSum: 3545.861333,
    first: ['A man with a hard hat is dancing.', 'A man wearing a hard hat is dancing.', 5],
    last: ['New video shows US police officers beating mentally-ill man', 'New York police officer critically wounded in hatchet attack', 0],
  },
];

function assertExample(d: Dataset, i: number, [text, textPair, label]: [string, string | undefined, number]): void {
  assert.equal(d.examples[i].text, text);
  assert.equal(d.examples[i].textPair, textPair);
  assert.equal(d.labels![i], label);
}

for (const c of CASES) {
  test(`${c.folder}: ${c.count} examples, first and last as in the file, labels`, () => {
    const d = readDataset(path.join(GLUE, c.folder));
    assert.equal(d.task, c.task);
    assert.equal(d.path, path.join(GLUE, c.folder, c.file));
    assert.equal(d.examples.length, c.count);
    assert.equal(d.labels!.length, c.count);
    assertExample(d, 0, c.first);
    assertExample(d, c.count - 1, c.last);
    if (c.task === 'stsb') assert.ok(Math.abs(sum(d.labels) - c.labelSum) < 1e-5);
    else assert.equal(sum(d.labels), c.labelSum);
    assert.ok(d.labels!.every((l) => l !== null && (c.task === 'stsb' ? l >= 0 && l <= 5 : l === 0 || l === 1)));
    assert.ok(d.examples.every((e) => (e.textPair !== undefined) === (c.first[1] !== undefined)));
    if (c.task !== 'qqp') {
      assert.equal(d.split, 'dev');
      assert.deepEqual(d.warnings, []);
      assert.equal(d.skipped, 0);
    }
  });
}

test('QQP subset: no dev.tsv, so its only .tsv is read (split null, warned); the malformed first row is skipped and counted', () => {
  const d = readDataset(path.join(GLUE, 'QQP-subset'));
  assert.equal(d.split, null);
  assert.equal(d.skipped, 1);
  assert.equal(d.warnings.length, 2);
  assert.match(d.warnings[0], /has no dev\.tsv; read its only \.tsv file, qqp_subset\.tsv/);
  assert.match(d.warnings[1], /skipped 1 malformed row with other than 6 tab-separated fields \(line 1\)/);
  // The file read directly, with the task named (its folder also names it).
  const f = readDataset(path.join(GLUE, 'QQP-subset', 'qqp_subset.tsv'), { task: 'qqp', limit: 3 });
  assert.equal(f.split, null);
  assert.equal(f.examples.length, 3);
  assert.equal(f.examples[0].text, 'What causes stool color to change to yellow?');
});

test('MRPC: the UTF-8 BOM is stripped so the header is found; fields beginning with a double quote stay literal', () => {
  const file = path.join(GLUE, 'MRPC', 'dev.tsv');
  assert.deepEqual([...fs.readFileSync(file).subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  const d = readDataset(file);
  assert.equal(d.task, 'mrpc'); // from the folder name
  assert.equal(d.split, null);
  assert.ok(d.examples[0].textPair!.startsWith('" The foodservice'));
  // awk -F'\t' 'NR>1 && substr($4,1,1)=="\""' MRPC/dev.tsv | wc -l → 40
  assert.equal(d.examples.filter((e) => e.text.startsWith('"')).length, 40);
});

test('splits: a named split, a missing split lists the splits present', () => {
  const d = readDataset(path.join(GLUE, 'SST-2'), { split: 'train' });
  assert.equal(d.split, 'train');
  assert.equal(d.examples.length, 67349); // 67350 lines − header
  throwsUser(() => readDataset(path.join(GLUE, 'SST-2'), { split: 'test' }), /SST-2 has no split 'test' \(test\.tsv\); splits present: dev, train/);
  throwsUser(() => readDataset(path.join(GLUE, 'QNLI'), { split: 'train' }), /QNLI has no split 'train'.*splits present: dev$/);
});

test('limit keeps the first N examples', () => {
  const d = readDataset(path.join(GLUE, 'RTE'), { limit: 5 });
  assert.equal(d.examples.length, 5);
  assert.equal(d.labels!.length, 5);
  assert.equal(d.examples[0].textPair, 'Christopher Reeve had an accident.');
  throwsUser(() => readDataset(path.join(GLUE, 'RTE'), { limit: 0 }), /limit must be a positive integer/);
  throwsUser(() => readDataset(path.join(GLUE, 'RTE'), { limit: 1.5 }), /limit must be a positive integer/);
});

test('detectTask: GLUE folder names in any case with or without dash, file extensions, the folder of a file', () => {
  assert.deepEqual(TASKS, ['sst2', 'mrpc', 'rte', 'cola', 'qqp', 'qnli', 'stsb', 'wnli', 'text', 'jsonl']);
  const expected: Record<string, string> = {
    'SST-2': 'sst2', 'CoLA': 'cola', 'MRPC': 'mrpc', 'RTE': 'rte', 'WNLI': 'wnli', 'QNLI': 'qnli', 'QQP-subset': 'qqp', 'STS-B': 'stsb',
  };
  for (const [folder, task] of Object.entries(expected)) {
    assert.equal(detectTask(path.join(GLUE, folder)), task);
    assert.equal(detectTask(path.join(GLUE, folder, 'dev.tsv')), task);
  }
  for (const name of ['sst2', 'stsb', 'qqp', 'Sts_B', 'mrpc']) fs.mkdirSync(path.join(tmp, 'detect', name), { recursive: true });
  assert.equal(detectTask(path.join(tmp, 'detect', 'sst2')), 'sst2');
  assert.equal(detectTask(path.join(tmp, 'detect', 'stsb')), 'stsb');
  assert.equal(detectTask(path.join(tmp, 'detect', 'Sts_B')), 'stsb');
  assert.equal(detectTask(path.join(tmp, 'detect', 'qqp')), 'qqp');
  assert.equal(detectTask(path.join(tmp, 'detect', 'mrpc', 'x.jsonl')), 'jsonl');
  assert.equal(detectTask(path.join(tmp, 'detect', 'mrpc', 'x.txt')), 'text');
  assert.equal(detectTask(path.join(tmp, 'detect')), null);
  assert.equal(detectTask(path.join(tmp, 'detect', 'x.tsv')), null);
  assert.equal(detectTask(path.join(GLUE, 'MANIFEST.md')), null);
});

test('TSV rules: columns by header name, CRLF, BOM, wrong field counts and unknown labels skipped with line numbers, unlabeled test files', () => {
  // Extra columns in another order; CRLF line ends; a BOM; 6 malformed rows (5 listed, then …); a bad label.
  const rows = ['id\tlabel\tsentence\textra'];
  for (let i = 0; i < 10; i++) rows.push(`${i}\t${i % 2}\t"quoted ${i}\tx`);
  rows.splice(3, 0, 'too\tfew', 'a\tb\tc\td\te', 'x', 'y', 'z', 'w');
  rows.push('99\tpositive\ttext\tx', '');
  const file = write('SST-2/dev.tsv', '\ufeff' + rows.join('\r\n') + '\r\n');
  const d = readDataset(path.join(tmp, 'SST-2'));
  assert.equal(d.examples.length, 10);
  assert.equal(d.path, file);
  assert.deepEqual(d.examples[0], { text: '"quoted 0' });
  assert.deepEqual(d.labels, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
  assert.equal(d.skipped, 7);
  assert.deepEqual(d.warnings, [
    `${file}: skipped 6 malformed rows with other than 4 tab-separated fields (lines 4, 5, 6, 7, 8 …)`,
    `${file}: skipped 1 row whose label is not '0' or '1' (line 18)`,
  ]);
  // A GLUE test file: header without the label column → labels null.
  const test = readDataset(write('RTE/test.tsv', 'index\tsentence1\tsentence2\n0\tA.\tB.\n'), { task: 'rte' });
  assert.equal(test.labels, null);
  assert.deepEqual(test.examples, [{ text: 'A.', textPair: 'B.' }]);
  // CoLA's test file has a header (index, sentence); train/dev have none.
  const cola = readDataset(write('CoLA/test.tsv', 'index\tsentence\n0\tBill left.\n'), { task: 'cola' });
  assert.deepEqual([cola.examples, cola.labels], [[{ text: 'Bill left.' }], null]);
  // STS-B: a score that is not a number is a bad label.
  const stsb = readDataset(write('STS-B/dev.tsv', 'sentence1\tsentence2\tscore\na\tb\t3.5\nc\td\tn/a\n'));
  assert.deepEqual([stsb.labels, stsb.skipped], [[3.5], 1]);
});

test('text files: one example per non-blank line, \\r dropped, limit', () => {
  const file = write('notes.txt', 'first line\r\n\r\n  \nsecond line  \nthird\n');
  const d = readDataset(file);
  assert.equal(d.task, 'text');
  assert.deepEqual(d.examples, [{ text: 'first line' }, { text: 'second line  ' }, { text: 'third' }]);
  assert.equal(d.labels, null);
  assert.equal(d.split, null);
  assert.deepEqual(readDataset(file, { limit: 2 }).examples.length, 2);
  // Any file is text when the task says so.
  assert.equal(readDataset(write('plain.dat', 'x\n'), { task: 'text' }).examples.length, 1);
  // A folder with the task: <split>.txt.
  write('corpus/dev.txt', 'a\nb\n');
  assert.equal(readDataset(path.join(tmp, 'corpus'), { task: 'text' }).examples.length, 2);
});

test('JSONL: text field, pair field, labels (numbers, booleans, strings), blank lines', () => {
  const file = write('data.jsonl', [
    '{"text": "good film", "label": 1, "other": "x"}',
    '',
    '{"text": "bad film", "label": 0}',
    '{"text": "no label"}',
  ].join('\n') + '\n');
  let d = readDataset(file);
  assert.equal(d.task, 'jsonl');
  assert.deepEqual(d.examples, [{ text: 'good film' }, { text: 'bad film' }, { text: 'no label' }]);
  assert.deepEqual(d.labels, [1, 0, null]);
  d = readDataset(write('pairs.jsonl', '{"q": "a?", "p": "b.", "label": "yes"}\n{"q": "c?", "p": "d.", "label": "no"}\n{"q": "e?", "p": "f.", "label": "2"}\n'), { textField: 'q', textPairField: 'p' });
  assert.deepEqual(d.examples, [{ text: 'a?', textPair: 'b.' }, { text: 'c?', textPair: 'd.' }, { text: 'e?', textPair: 'f.' }]);
  assert.deepEqual(d.labels, [1, 0, 2]);
  assert.match(d.warnings[0], /string labels mapped to class indices: no=0, yes=1/);
  d = readDataset(write('bools.jsonl', '{"text": "a", "label": true}\n{"text": "b", "label": false}\n'), { limit: 1 });
  assert.deepEqual([d.examples.length, d.labels], [1, [1]]);
  assert.equal(readDataset(write('nolabels.jsonl', '{"text": "a"}\n')).labels, null);
});

test('JSONL errors: invalid JSON names file:line, a missing text field lists the fields present', () => {
  const bad = write('bad.jsonl', '{"text": "a"}\n{"text": "b",\n');
  throwsUser(() => readDataset(bad), new RegExp(`${bad.replace(/[.\\]/g, '\\$&')}:2: not valid JSON`));
  const other = write('other.jsonl', '{"sentence": "a", "label": 1}\n');
  throwsUser(() => readDataset(other), /other\.jsonl:1: the first record has no field 'text' \(it has 'sentence', 'label'\); pass --text-field/);
  throwsUser(() => readDataset(other, { textField: 'sentence', textPairField: 'second' }), /no field 'second'/);
  throwsUser(() => readDataset(write('later.jsonl', '{"text": "a"}\n{"txt": "b"}\n')), /later\.jsonl:2: field 'text' is missing/);
  throwsUser(() => readDataset(write('num.jsonl', '{"text": 5}\n')), /num\.jsonl:1: field 'text' is not a string \(5\)/);
  throwsUser(() => readDataset(write('array.jsonl', '["a"]\n')), /array\.jsonl:1: expected a JSON object, found an array/);
});

test('errors: missing path, undetectable task, empty file, no examples after parsing, a header-less file of a task that needs one', () => {
  throwsUser(() => readDataset(path.join(tmp, 'missing.tsv')), /no such file or folder: .*missing\.tsv/);
  throwsUser(() => readDataset(write('odd/data.tsv', 'a\tb\n')), /cannot tell which task .*data\.tsv holds; pass --task/);
  throwsUser(() => readDataset(write('empty.txt', '')), /empty\.txt has no examples/);
  throwsUser(() => readDataset(write('blank.txt', '\n \n\r\n')), /blank\.txt has no examples/);
  throwsUser(() => readDataset(write('empty.jsonl', '')), /empty\.jsonl has no examples/);
  throwsUser(() => readDataset(write('WNLI/dev.tsv', 'index\tsentence1\tsentence2\tlabel\n0\ta\n')), /WNLI.dev\.tsv has no examples \(1 malformed rows skipped\)/);
  throwsUser(() => readDataset(write('headerless.tsv', 'a sentence\t1\n'), { task: 'sst2' }), /the first line is not a sst2 header with columns 'sentence' \(it has 'a sentence', '1'\)/);
  throwsUser(() => readDataset(path.join(GLUE, 'SST-2'), { task: 'imdb' as 'sst2' }), /unknown task 'imdb'/);
  fs.mkdirSync(path.join(tmp, 'MRPC-empty'), { recursive: true });
  throwsUser(() => readDataset(path.join(tmp, 'MRPC-empty')), /MRPC-empty has no split 'dev' \(dev\.tsv\); splits present: none \(no \.tsv files\)/);
});
