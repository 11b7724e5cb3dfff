/**
 * A helper thread of the WebAssembly products (wasm.ts): instantiates the kernel module over
 * the shared memory with its own stack, then sleeps on the control block and joins every job
 * it is woken for. It never returns to the event loop until the products are closed.
 */
import { workerData } from 'node:worker_threads';
import { controlViews, runTiles, GEN, READY, STOP, type TileExports } from './tiles.js';

interface ThreadData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  stackTop: number;
  scratch: number;
}

const { module, memory, control, stackTop, scratch } = workerData as ThreadData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as TileExports & { __stack_pointer: WebAssembly.Global };
exports.__stack_pointer.value = stackTop;
const ctrl = controlViews(control);
Atomics.add(ctrl.i32, READY, 1);
Atomics.notify(ctrl.i32, READY);

for (let seen = Atomics.load(ctrl.i32, GEN); Atomics.load(ctrl.i32, STOP) === 0; seen = Atomics.load(ctrl.i32, GEN)) {
  runTiles(exports, ctrl, scratch, true);
  Atomics.wait(ctrl.i32, GEN, seen);
}
