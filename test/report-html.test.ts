/**
 * The report writers: layers.csv to the byte, the set of charts a report gets, the SVG each
 * chart renders to in Node, the self-contained page (escaping, no script, no external resource),
 * the report folder, and the page as headless Chromium renders it.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from 'vega-lite';
import type { Report, ReportRow, ReportLayerDetail } from '../src/report/model.js';
import { layersCsv } from '../src/report/csv.js';
import { reportCharts, skippedCharts, LAYER_AXIS_TITLE } from '../src/report/charts.js';
import { renderSvg } from '../src/report/render-svg.js';
import { reportHtml, formatNumber } from '../src/report/html.js';
import { writeReport } from '../src/report/write.js';
import { UserError } from '../src/errors.js';
import { checkHtmlInChromium, findChromium } from '../src/report/chromium-check.js';

const tmp = mkdtempSync(join(tmpdir(), 'repgeom-report-'));
const ODD = 'a<b&c'; // a checkpoint name that must be escaped everywhere
const ODD_ESCAPED = 'a&lt;b&amp;c';

function row(checkpoint: string, layer: number, values: Partial<ReportRow>): ReportRow {
  return {
    checkpoint, layer, points: 500, dim: 8,
    isoscore: null, isoscoreStar: null, meanCosine: null, partitionIsotropy: null, twoNN: null, twoNNStd: null,
    mle: null, pcaId90: null, pcaId99: null, participationRatio: null, selfSimilarity: null, selfSimilarityAdjusted: null,
    intraSentenceSimilarity: null, intraSentenceSimilarityAdjusted: null,
    ...values,
  };
}

/** 2 checkpoints × 3 layers, d = 8, every metric but the Ethayarajh similarities. */
function smallReport(): Report {
  const full = (iso: number, cos: number, id: number, layer: number): Partial<ReportRow> => ({
    isoscore: iso, isoscoreStar: iso + 0.01, meanCosine: cos, partitionIsotropy: 0.5 + iso / 2, twoNN: id, twoNNStd: 0.25,
    mle: id + 0.5, pcaId90: 6 - layer, pcaId99: 8 - layer, participationRatio: 7.5 - 2 * layer,
  });
  const rows: ReportRow[] = [
    row(ODD, 0, full(0.9, 0.01, 7.2, 0)),
    row(ODD, 1, full(0.6, 0.2, 6.1, 1)),
    row(ODD, 2, { ...full(0.3, 0.45, 5.4, 2), isoscoreStar: null, twoNNStd: null }),
    row('step-2000', 0, full(0.85, 0.02, 7.0, 0)),
    row('step-2000', 1, full(0.5, 0.3, 5.9, 1)),
    row('step-2000', 2, { ...full(0.2, 0.6, 5.0, 2), points: 480 }),
  ];
  const details: ReportLayerDetail[] = rows.map((r) => ({
    checkpoint: r.checkpoint,
    layer: r.layer,
    spectrum: Array.from({ length: 8 }, (_, k) => (k === 7 ? 0 : (1 + r.layer) * 2 ** -k)), // one zero eigenvalue, dropped on the log axis
    rogueDimensions: [
      { dim: 3, varianceShare: 0.1 + 0.2 * r.layer, cosineShare: 0.2 + 0.2 * r.layer },
      { dim: 5, varianceShare: 0.12, cosineShare: 0.1 },
    ],
  }));
  return {
    version: '0.1.0',
    created: '2025-01-02T03:04:05.000Z',
    title: 'Test <report> & "friends"',
    backend: 'cpu', productsBackend: 'wasm relaxed-simd, 2 threads',
    data: { path: '/data/sst2 & co/dev.tsv', task: 'sst2', split: 'dev', examples: 100, tokens: 'all', maxLength: 128 },
    options: { zeta: 0.2, seed: 0 },
    checkpoints: [
      // Not alphabetical: the charts must keep this order.
      { name: 'step-2000', path: '/models/step-2000', states: 'step-2000.arrow', modelType: 'bert', layers: 3, dim: 8 },
      { name: ODD, path: null, states: 'odd.arrow', modelType: null, layers: 3, dim: 8 },
    ],
    rows,
    details,
    measures: {},
    notes: ['Self-similarity needs word types <and> sentence ids; the states file has none.'],
  };
}

function withSimilarity(report: Report): Report {
  const r = structuredClone(report);
  r.rows.forEach((x, i) => {
    x.selfSimilarity = 0.3 + 0.1 * x.layer;
    x.selfSimilarityAdjusted = 0.1 + 0.05 * x.layer;
    x.intraSentenceSimilarity = i % 2 === 0 ? 0.4 : null;
    x.intraSentenceSimilarityAdjusted = 0.05 * x.layer;
  });
  r.notes = [];
  return r;
}

/** A report the size of a real one: three pretraining checkpoints of a 12-layer, d = 768 encoder. */
function realisticReport(): Report {
  const names = ['pythia-160m-step1000', 'pythia-160m-step33000', 'pythia-160m-step143000'];
  const rows: ReportRow[] = [];
  const details: ReportLayerDetail[] = [];
  names.forEach((name, c) => {
    for (let layer = 0; layer <= 12; layer++) {
      const t = layer / 12, a = (c + 1) / 3;
      rows.push(row(name, layer, {
        points: 12_000, dim: 768,
        isoscore: 0.35 * Math.exp(-3 * t * a) + 0.01,
        isoscoreStar: 0.4 * Math.exp(-2.5 * t * a) + 0.02,
        meanCosine: 0.05 + 0.6 * a * t * t,
        partitionIsotropy: 0.9 - 0.5 * a * t,
        twoNN: 14 + 20 * Math.sin(Math.PI * t) * (0.6 + 0.4 * a),
        twoNNStd: 0.4 + 0.6 * t,
        mle: 12 + 15 * Math.sin(Math.PI * t),
        pcaId90: Math.round(500 - 380 * a * t),
        pcaId99: Math.round(700 - 250 * a * t),
        participationRatio: 180 * Math.exp(-2 * a * t) + 3,
        selfSimilarity: 0.4 + 0.4 * t * a,
        selfSimilarityAdjusted: 0.3 + 0.1 * t,
        intraSentenceSimilarity: 0.5 + 0.3 * t * a,
        intraSentenceSimilarityAdjusted: 0.2 + 0.05 * t,
      }));
      const spike = 1 + 400 * a * t * t;
      details.push({
        checkpoint: name,
        layer,
        spectrum: Array.from({ length: 768 }, (_, k) => (k === 0 ? spike * 10 : 10 * (k + 1) ** -(0.6 + 0.8 * a * t))),
        rogueDimensions: [
          { dim: 77, varianceShare: 0.02 + 0.5 * a * t * t, cosineShare: 0.05 + 0.6 * a * t },
          { dim: 588, varianceShare: 0.01 + 0.2 * a * t, cosineShare: 0.02 + 0.2 * a * t },
          { dim: 308, varianceShare: 0.015 + 0.05 * t, cosineShare: 0.01 },
          { dim: layer, varianceShare: 0.012, cosineShare: 0.005 },
        ],
      });
    }
  });
  return {
    version: '0.1.0',
    created: '2025-06-01T12:00:00.000Z',
    title: 'Pythia-160m over pretraining — SST-2 dev',
    backend: 'wasm', productsBackend: 'openblas 0.3.21, 2 threads',
    data: { path: 'data/glue/SST-2', task: 'sst2', split: 'dev', examples: 872, tokens: 'all', maxLength: 128 },
    options: { zeta: 0.2, sample: 5000, seed: 0, layers: 'all' },
    checkpoints: names.map((name) => ({ name, path: `models/${name}`, states: `${name}.arrow`, modelType: 'gpt_neox', layers: 13, dim: 768 })),
    rows,
    details,
    measures: {},
    notes: ['TwoNN and MLE on 5000 sampled points per layer (seed 0).'],
  };
}

/** The SVG with its xmlns declarations removed: what remains must not name any http(s) resource. */
const withoutXmlns = (text: string) => text.replace(/\sxmlns(?::\w+)?="http:\/\/www\.w3\.org\/(?:2000\/svg|1999\/xlink|1999\/xhtml)"/g, '');

const ALL_BUT_SIMILARITY = ['isoscore', 'isoscore-star', 'mean-cosine', 'twonn', 'pca-id', 'participation-ratio', 'spectrum', 'rogue-dimensions'];

describe('layers.csv', () => {
  test('header of the ReportRow keys, null as empty field, numbers in full precision, RFC 4180 quoting', () => {
    const report = smallReport();
    report.rows = [
      row('x,"y"', 2, { isoscore: 0.123456789012345, meanCosine: -5.5e-5, twoNN: 12, pcaId90: 3, participationRatio: 1 / 3 }),
      row('plain', 0, {}),
    ];
    assert.equal(
      layersCsv(report),
      'checkpoint,layer,points,dim,isoscore,isoscoreStar,meanCosine,partitionIsotropy,twoNN,twoNNStd,mle,pcaId90,pcaId99,' +
        'participationRatio,selfSimilarity,selfSimilarityAdjusted,intraSentenceSimilarity,intraSentenceSimilarityAdjusted\n' +
        '"x,""y""",2,500,8,0.123456789012345,,-0.000055,,12,,,3,,0.3333333333333333,,,,\n' +
        'plain,0,500,8,,,,,,,,,,,,,,\n',
    );
  });
});

describe('charts', () => {
  test('exactly the charts with data, in page order; the similarity chart only when some row has it', () => {
    const report = smallReport();
    assert.deepEqual(reportCharts(report).map((c) => c.id), ALL_BUT_SIMILARITY);
    assert.deepEqual(skippedCharts(report).map((c) => c.id), ['self-similarity']);
    assert.deepEqual(reportCharts(withSimilarity(report)).map((c) => c.id), [...ALL_BUT_SIMILARITY, 'self-similarity']);
    assert.deepEqual(skippedCharts(withSimilarity(report)), []);
    // A metric null in every row has no chart.
    const noStar = smallReport();
    for (const r of noStar.rows) { r.isoscoreStar = null; r.twoNN = null; }
    noStar.details = [];
    assert.deepEqual(reportCharts(noStar).map((c) => c.id), ['isoscore', 'mean-cosine', 'pca-id', 'participation-ratio']);
  });

  test('titles and descriptions; ζ from the options in the IsoScore⋆ title', () => {
    const charts = reportCharts(smallReport());
    assert.equal(charts.find((c) => c.id === 'isoscore-star')!.title, 'IsoScore⋆ per layer (ζ = 0.2)');
    const noZeta = smallReport();
    noZeta.options = {};
    assert.equal(reportCharts(noZeta).find((c) => c.id === 'isoscore-star')!.title, 'IsoScore⋆ per layer');
    for (const c of charts) assert.match(c.description, /isotropic/, c.id);
  });

  test('the checkpoint colour follows report.checkpoints order, not the alphabet', () => {
    const spec = reportCharts(smallReport()).find((c) => c.id === 'isoscore')!.spec as { encoding: { color: { scale: { domain: string[] }; sort: string[] } } };
    assert.deepEqual(spec.encoding.color.scale.domain, ['step-2000', ODD]);
    assert.deepEqual(spec.encoding.color.sort, ['step-2000', ODD]);
  });

  test('TwoNN band is ±twoNNStd and skips rows without it; PCA-ID has both thresholds', () => {
    const charts = reportCharts(smallReport());
    const twonn = charts.find((c) => c.id === 'twonn')!.spec as { data: { values: { checkpoint: string; layer: number; id: number; lo: number | null; hi: number | null }[] } };
    const first = twonn.data.values.find((v) => v.checkpoint === ODD && v.layer === 0)!;
    assert.deepEqual([first.lo, first.id, first.hi], [7.2 - 0.25, 7.2, 7.2 + 0.25]);
    assert.equal(twonn.data.values.find((v) => v.checkpoint === ODD && v.layer === 2)!.lo, null);
    const pca = charts.find((c) => c.id === 'pca-id')!.spec as { data: { values: { threshold: string; components: number; layer: number; checkpoint: string }[] } };
    assert.equal(pca.data.values.length, 12);
    assert.deepEqual(pca.data.values.filter((v) => v.checkpoint === ODD && v.layer === 1).map((v) => [v.threshold, v.components]), [['90%', 5], ['99%', 7]]);
  });

  test('the spectrum has a log y scale in the compiled Vega spec and drops non-positive eigenvalues', () => {
    const chart = reportCharts(smallReport()).find((c) => c.id === 'spectrum')!;
    const vg = compile(chart.spec).spec as { scales: { name: string; type?: string }[] };
    assert.equal(vg.scales.find((s) => s.name === 'y')!.type, 'log');
    const data = (chart.spec as { data: { values: { eigenvalue: number; component: number }[] } }).data.values;
    assert.equal(data.length, 6 * 7, 'the zero eigenvalue of every layer is left out');
    assert.ok(data.every((d) => d.eigenvalue > 0 && d.component >= 1 && d.component <= 7));
    // A long spectrum keeps its first 200 components and a log-spaced subset of the rest.
    const long = smallReport();
    long.details = [{ checkpoint: ODD, layer: 0, spectrum: Array.from({ length: 5000 }, (_, k) => 1 / (k + 1)), rogueDimensions: [] }];
    const components = ((reportCharts(long).find((c) => c.id === 'spectrum')!.spec as { data: { values: { component: number }[] } }).data.values).map((d) => d.component);
    assert.ok(components.length <= 1200 && components.length > 1000, String(components.length));
    assert.deepEqual(components.slice(0, 200), Array.from({ length: 200 }, (_, i) => i + 1));
    assert.equal(components.at(-1), 5000);
    assert.ok(components.every((c, i) => i === 0 || c > components[i - 1]), 'increasing, no duplicates');
  });

  test('more than ten checkpoints (a pretraining trajectory) get a sequential palette in report order', async () => {
    const r = smallReport();
    const names = Array.from({ length: 12 }, (_, i) => `step-${(12 - i) * 1000}`); // descending: not sorted
    r.checkpoints = names.map((name) => ({ ...r.checkpoints[0], name }));
    r.rows = names.flatMap((name, i) => [0, 1].map((layer) => row(name, layer, { isoscore: 0.1 * layer + 0.01 * i })));
    r.details = [];
    const chart = reportCharts(r).find((c) => c.id === 'isoscore')!;
    const color = (chart.spec as { encoding: { color: { scale: { domain: string[]; scheme: string } } } }).encoding.color.scale;
    assert.deepEqual(color.domain, names);
    assert.equal(color.scheme, 'viridis');
    const warnings: string[] = [];
    const svg = await renderSvg(chart.spec, { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings, []);
    const legend = svg.slice(svg.indexOf('role-legend'));
    const positions = names.map((n) => legend.indexOf(`>${n}</text>`));
    assert.ok(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1])), 'every checkpoint in the legend, in report order');
  });

  test('rogue dimensions: variance shares by labelled dimension', () => {
    const chart = reportCharts(smallReport()).find((c) => c.id === 'rogue-dimensions')!;
    const data = (chart.spec as { data: { values: { dimension: string; varianceShare: number; checkpoint: string; layer: number }[] } }).data.values;
    assert.deepEqual([...new Set(data.map((d) => d.dimension))], ['dim 3', 'dim 5']);
    assert.equal(data.find((d) => d.checkpoint === ODD && d.layer === 2 && d.dimension === 'dim 3')!.varianceShare, 0.5);
  });

  test('every chart compiles and renders to SVG without a warning, with its axis title and the checkpoint names', async () => {
    for (const chart of reportCharts(withSimilarity(smallReport()))) {
      const warnings: string[] = [];
      const svg = await renderSvg(chart.spec, { onWarning: (w) => warnings.push(w), idPrefix: chart.id });
      assert.deepEqual(warnings, [], chart.id);
      assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>/, chart.id);
      assert.ok(svg.trimEnd().endsWith('</svg>'), chart.id);
      assert.equal(svg.split('<svg').length - 1, 1, `${chart.id}: one svg element`);
      const axisTitle = chart.id === 'spectrum' ? 'eigenvalue (log scale)' : LAYER_AXIS_TITLE;
      assert.ok(svg.includes(`>${axisTitle}</text>`), `${chart.id}: axis title ${axisTitle}`);
      if (chart.id === 'spectrum' || chart.id === 'rogue-dimensions') {
        // one panel per checkpoint, named in its header
        assert.ok(svg.includes(`>${ODD_ESCAPED}</text>`) && svg.includes('>step-2000</text>'), `${chart.id}: panel headers`);
      } else {
        const legend = svg.slice(svg.indexOf('role-legend'));
        assert.ok(svg.includes('role-legend'), `${chart.id}: has a legend`);
        const odd = legend.indexOf(`>${ODD_ESCAPED}</text>`), step = legend.indexOf('>step-2000</text>');
        assert.ok(odd >= 0 && step >= 0, `${chart.id}: both checkpoints in the legend`);
        assert.ok(step < odd, `${chart.id}: legend in report order`);
      }
      assert.ok(!svg.includes(ODD), `${chart.id}: raw name escaped`);
      assert.ok(!/https?:\/\//.test(withoutXmlns(svg)), `${chart.id}: no external reference`);
      for (const m of svg.matchAll(/\sid="([^"]+)"/g)) assert.ok(m[1].startsWith(`${chart.id}-`), `${chart.id}: id ${m[1]} prefixed`);
    }
  });

  test('degenerate reports render without warnings: one checkpoint and one layer, or no rows at all', async () => {
    const one = withSimilarity(smallReport());
    one.checkpoints = one.checkpoints.slice(0, 1);
    one.rows = one.rows.filter((r) => r.checkpoint === 'step-2000' && r.layer === 1);
    one.details = one.details.filter((r) => r.checkpoint === 'step-2000' && r.layer === 1);
    const charts = reportCharts(one);
    assert.equal(charts.length, 9);
    for (const chart of charts) {
      const warnings: string[] = [];
      const svg = await renderSvg(chart.spec, { onWarning: (w) => warnings.push(w) });
      assert.deepEqual(warnings, [], chart.id);
      assert.ok(svg.includes('>step-2000</text>'), chart.id);
    }
    const empty = smallReport();
    empty.rows = [];
    empty.details = [];
    assert.deepEqual(reportCharts(empty), []);
    const html = await reportHtml(empty);
    assert.equal(html.split('<svg').length - 1, 0);
    assert.match(html, /No layers were measured/);
  });

  test('a spec that names external data is refused, not fetched', async () => {
    const spec = { data: { url: 'https://example.invalid/data.json' }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' } } };
    await assert.rejects(renderSvg(spec as never), /refusing to load|chart rendering failed/);
  });
});

describe('index.html', () => {
  test('self-contained page: one <svg> per chart, escaped strings, no script, no external resource', async () => {
    const report = smallReport();
    const html = await reportHtml(report);
    const charts = reportCharts(report);
    assert.equal(html.split('<svg').length - 1, charts.length);
    assert.ok(html.startsWith('<!doctype html>'));
    assert.ok(!/<script/i.test(html));
    assert.ok(!/<link|<img|<iframe|<object|<embed|@import|@font-face|\bsrc=/i.test(html));
    assert.deepEqual([...html.matchAll(/url\(([^)]*)\)/g)].filter((m) => !m[1].startsWith('#')), [], 'only url(#id) references');
    assert.ok(!/https?:\/\//.test(withoutXmlns(html)), 'no http(s) reference besides the SVG xmlns');
    // escaping
    assert.ok(!html.includes(ODD));
    assert.ok(html.includes(`<th scope="row">${ODD_ESCAPED}</th>`), 'in the checkpoints table');
    assert.ok(html.includes(`<h3 class="table-title">${ODD_ESCAPED}</h3>`), 'heading its layers table');
    assert.ok(html.indexOf('<h3 class="table-title">step-2000</h3>') < html.indexOf(`<h3 class="table-title">${ODD_ESCAPED}</h3>`), 'layers tables in report order');
    assert.ok(html.includes('<title>Test &lt;report&gt; &amp; &quot;friends&quot;</title>'));
    assert.ok(html.includes('/data/sst2 &amp; co/dev.tsv'));
    assert.ok(html.includes('word types &lt;and&gt; sentence ids'));
    // header, tables, chart titles and descriptions
    for (const text of ['2025-01-02T03:04:05.000Z', 'repgeom</dt><dd>0.1.0', 'backend</dt><dd>cpu', 'task sst2, split dev, 100 examples']) assert.ok(html.includes(text), text);
    for (const c of charts) {
      assert.ok(html.includes(`<h3>${c.title}</h3>`), c.title);
      assert.ok(html.includes(c.description.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')), c.id);
    }
    // the similarity chart is named as not computed, and the layers table says which columns are absent
    assert.match(html, /Not computed<\/h3>[\s\S]*Self-similarity and intra-sentence similarity per layer<\/strong>/);
    assert.match(html, /Not computed \(null in every row\): self-sim\. \(<code>selfSimilarity<\/code>\)/);
    // a layer row: four significant digits, the full value in the title, integers as they are
    assert.ok(html.includes(
      '<tr><th scope="row" class="num">0</th><td class="num">500</td><td class="num">8</td><td class="num" title="0.9">0.9000</td>' +
      '<td class="num" title="0.91">0.9100</td><td class="num" title="0.01">0.01000</td><td class="num" title="0.95">0.9500</td>' +
      '<td class="num" title="7.2">7.200</td><td class="num" title="0.25">0.2500</td><td class="num" title="7.7">7.700</td>' +
      '<td class="num">6</td><td class="num">8</td><td class="num" title="7.5">7.500</td></tr>'));
    assert.ok(html.includes('<td class="num na">—</td>'), 'null shown as a dash');
    assert.equal(html.match(/<tr[ >]/g)!.length, 1 + 2 + 2 * (1 + 3), 'checkpoints table and one layers table per checkpoint');
  });

  test('number formatting', () => {
    assert.deepEqual([0, 12, 0.97523, 33.3912, 5.5e-5, -0.25, 1234.567, 2.5e7].map(formatNumber), ['0', '12', '0.9752', '33.39', '5.50e-5', '-0.2500', '1234.6', '2.50e+7']);
  });
});

describe('writeReport', () => {
  test('writes exactly report.json, layers.csv and index.html; report.json round-trips', async () => {
    const report = smallReport();
    mkdirSync(join(tmp, 'nested'));
    const dir = join(tmp, 'nested', 'out');
    const { files } = await writeReport(dir, report);
    assert.deepEqual(files, ['report.json', 'layers.csv', 'index.html'].map((f) => join(dir, f)));
    assert.deepEqual(readdirSync(dir).sort(), ['index.html', 'layers.csv', 'report.json'], 'no temporary file left');
    const json = readFileSync(join(dir, 'report.json'), 'utf8');
    assert.equal(json, `${JSON.stringify(report, null, 2)}\n`);
    assert.deepEqual(JSON.parse(json), report);
    assert.equal(readFileSync(join(dir, 'layers.csv'), 'utf8'), layersCsv(report));
    assert.equal(readFileSync(join(dir, 'index.html'), 'utf8'), await reportHtml(report), 'the page is deterministic');
    // Writing again over an existing report replaces the files.
    report.title = 'second';
    await writeReport(dir, report);
    assert.equal(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).title, 'second');
    assert.deepEqual(readdirSync(dir).sort(), ['index.html', 'layers.csv', 'report.json']);
    assert.deepEqual(readdirSync(join(tmp, 'nested')), ['out'], 'no temporary folder left');
  });

  test('a folder that is not a report, or a path under a file, is a UserError and nothing is written', async () => {
    const dir = join(tmp, 'blocked');
    mkdirSync(join(dir, 'index.html'), { recursive: true }); // a folder where the page should go
    await assert.rejects(writeReport(dir, smallReport()), (e: unknown) => e instanceof UserError && /not only a repgeom report \(it holds index\.html\)/.test((e as Error).message));
    assert.deepEqual(readdirSync(dir), ['index.html']);
    assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('.tmp-')), []);
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    await assert.rejects(writeReport(join(file, 'sub'), smallReport()), (e: unknown) => e instanceof UserError && /a-file is not a folder/.test((e as Error).message));
  });
});

describe('headless Chromium', () => {
  const chromium = findChromium();

  test('the written page renders every chart and logs no console error', async (t) => {
    if (!chromium) { t.skip('chromium not installed'); return; }
    const report = realisticReport();
    const dir = join(tmp, 'realistic');
    await writeReport(dir, report);
    const shot = join(tmp, 'shot.png');
    const result = await checkHtmlInChromium(join(dir, 'index.html'), { screenshot: shot });
    assert.equal(result.svgCount, reportCharts(report).length);
    assert.equal(result.svgCount, 9);
    assert.deepEqual(result.consoleErrors, []);
    assert.deepEqual(result.externalRequests, []);
    assert.equal(result.screenshot, shot);
    assert.deepEqual([...readFileSync(shot).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  });

  test('a broken page is caught: console.error, an uncaught exception and an external request', async (t) => {
    if (!chromium) { t.skip('chromium not installed'); return; }
    const page = join(tmp, 'broken.html');
    writeFileSync(page, '<!doctype html><html><body><svg width="10" height="10"></svg><img src="http://example.invalid/x.png">' +
      "<script>console.log('all-good'); console.error('x');</script><script>notDefined();</script></body></html>");
    const result = await checkHtmlInChromium(page);
    assert.equal(result.svgCount, 1);
    assert.ok(result.consoleErrors.includes('console.error: x'), JSON.stringify(result.consoleErrors));
    assert.ok(result.consoleErrors.some((e) => /uncaught: ReferenceError: notDefined is not defined/.test(e)), JSON.stringify(result.consoleErrors));
    assert.ok(!result.consoleErrors.some((e) => e.includes('all-good')), 'console.log is not an error');
    assert.deepEqual(result.externalRequests, ['http://example.invalid/x.png']);
  });

  test('a missing browser is a clear error', async () => {
    await assert.rejects(checkHtmlInChromium(join(tmp, 'broken.html'), { chromium: join(tmp, 'no-such-chromium') }), /Chromium not found at .*no-such-chromium/);
  });
});
