/**
 * A helper thread of the threaded system-BLAS products (blas.ts): loads the same library
 * through koffi, then sleeps on the control block and computes blocks of every job it is
 * woken for.
 */
import { createRequire } from 'node:module';
import { workerData } from 'node:worker_threads';
import type * as Koffi from 'koffi';
import { blasAddressFunctions, blasTileKernels } from './blas-tiles.js';
import { controlViews, runTiles, GEN, READY, STOP } from './tiles.js';

const { path, control } = workerData as { path: string; control: SharedArrayBuffer };
const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
const kernels = blasTileKernels(blasAddressFunctions(koffi.load(path)));
const ctrl = controlViews(control);
Atomics.add(ctrl.i32, READY, 1);
Atomics.notify(ctrl.i32, READY);

for (let seen = Atomics.load(ctrl.i32, GEN); Atomics.load(ctrl.i32, STOP) === 0; seen = Atomics.load(ctrl.i32, GEN)) {
  runTiles(kernels, ctrl, 0, true);
  Atomics.wait(ctrl.i32, GEN, seen);
}
