/**
 * Dependencies point down the pipeline: src/backend/ imports nothing above itself, and src/io/
 * nothing but backend/ (and errors.ts); src/subspace/ (the random-subspace math) only backend/; src/train/
 * nothing of intrinsic/ or cli/, src/intrinsic/ nothing of cli/. Scans every relative specifier — static imports and
 * re-exports, dynamic import(), and module URLs (new URL('...', import.meta.url), used for
 * workers) — resolves it against its file, and names each import that points up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** What a layer may import from inside src/ (paths relative to src/). */
const ALLOWED: Record<string, (target: string) => boolean> = {
  backend: (t) => t === 'errors.ts' || t.startsWith(`backend${sep}`),
  io: (t) => t === 'errors.ts' || t.startsWith(`backend${sep}`) || t.startsWith(`io${sep}`),
  // The subspace math needs no model: intrinsic/ brings the two together.
  subspace: (t) => t === 'errors.ts' || t.startsWith(`backend${sep}`) || t.startsWith(`subspace${sep}`),
  // The training engine is reused by intrinsic-dim, never the other way round.
  train: (t) => !t.startsWith(`cli${sep}`) && !t.startsWith(`intrinsic${sep}`),
  intrinsic: (t) => !t.startsWith(`cli${sep}`),
};
/** compare is the last stage (after train): only the CLI imports it. */
const BELOW_COMPARE = ['backend', 'io', 'metrics', 'models', 'regularizers', 'report', 'subspace', 'train', 'intrinsic'];
for (const layer of BELOW_COMPARE) {
  const own = ALLOWED[layer];
  ALLOWED[layer] = (t) => !t.startsWith(`compare${sep}`) && (own ? own(t) : true);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative module specifiers in a source text. */
export function relativeSpecifiers(source: string): string[] {
  const patterns = [
    /\b(?:import|export)\s[^;]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g,
    /\bimport\s*['"](\.{1,2}\/[^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`](\.{1,2}\/[^'"`]+)['"`]/g,
    /\bnew URL\(\s*['"`](\.{1,2}\/[^'"`]+)['"`]\s*,\s*import\.meta\.url/g,
  ];
  return patterns.flatMap((re) => [...source.matchAll(re)].map((m) => m[1]));
}

/** `file`'s imports that leave what its layer may import: "file → target" lines. */
function upwardImports(layer: string): string[] {
  const bad: string[] = [];
  for (const file of filesUnder(join(SRC, layer))) {
    for (const spec of relativeSpecifiers(readFileSync(file, 'utf8'))) {
      const target = relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts').replace(/\$\{[^}]*\}/g, '');
      if (target.startsWith('..')) continue; // outside src/ (the wasm kernels)
      if (!ALLOWED[layer](target)) bad.push(`${relative(SRC, file)} → ${spec}`);
    }
  }
  return bad;
}

test('the scanner finds every kind of relative import (known answers)', () => {
  const text = [
    "import { a } from '../metrics/a.js';",
    "import type {\n  B,\n} from '../models/b.js';",
    "export { c } from './c.js';",
    "import './side-effect.js';",
    "const m = await import('../report/d.js');",
    "new Worker(new URL(`./w${ext}`, import.meta.url));",
    "import x from 'node:fs';",
  ].join('\n');
  assert.deepEqual(relativeSpecifiers(text).sort(), ['../metrics/a.js', '../models/b.js', '../report/d.js', './c.js', './side-effect.js', './w${ext}'].sort());
});

test('src/backend imports nothing from metrics, models or any layer above it', () => {
  assert.deepEqual(upwardImports('backend'), []);
});

test('src/io imports only from backend/ and errors.ts', () => {
  assert.deepEqual(upwardImports('io'), []);
});

test('nothing but the CLI imports src/compare (the stage after train)', () => {
  for (const layer of BELOW_COMPARE) assert.deepEqual(upwardImports(layer), [], layer);
});

test('src/subspace imports only backend/ and errors.ts; src/train nothing of intrinsic/ or cli/; src/intrinsic nothing of cli/', () => {
  assert.deepEqual(upwardImports('subspace'), []);
  assert.deepEqual(upwardImports('train'), []);
  assert.deepEqual(upwardImports('intrinsic'), []);
});
