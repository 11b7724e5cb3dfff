/**
 * Choosing and initialising the TensorFlow.js backend.
 *
 * tfjs is loaded lazily, only when a computation needs it, so commands that do not (reading a
 * file, IsoScore on a small cloud) start fast. The best available backend wins, in the order
 * tfjs-node-gpu > tfjs-node > wasm > cpu; `--backend` or REPGEOM_BACKEND picks one explicitly.
 * tfjs-node and tfjs-node-gpu download libtensorflow in their install script, so they cannot
 * be installed offline: tfjs-node is an optionalDependency (npm tolerates its failed install)
 * and both are used when present.
 */
import { createRequire } from 'node:module';
import type * as TfCore from '@tensorflow/tfjs-core';
import { UserError } from '../errors.js';

export type Tf = typeof TfCore;
export type BackendChoice = 'auto' | 'node-gpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'];
const PREFERENCE: readonly Exclude<BackendChoice, 'auto'>[] = ['node-gpu', 'node', 'wasm', 'cpu'];

let requested: BackendChoice | undefined;
let active: Promise<{ tf: Tf; name: Exclude<BackendChoice, 'auto'> }> | undefined;

/** Ask for a backend before the first computation (the CLI's --backend flag). */
export function requestBackend(choice: string | undefined): void {
  if (choice === undefined || choice === '') return;
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new UserError(`unknown backend '${choice}': choose one of ${BACKEND_CHOICES.join(', ')}`);
  }
  if (active && requested !== choice) throw new Error('requestBackend: tfjs is already initialised');
  requested = choice as BackendChoice;
}

/** The initialised tfjs namespace and the name of the backend in use. */
export function getTf(): Promise<{ tf: Tf; name: Exclude<BackendChoice, 'auto'> }> {
  active ??= initialise(requested ?? ((process.env.REPGEOM_BACKEND as BackendChoice) || 'auto'));
  return active;
}

/**
 * The backend a computation would get, without loading tfjs when that is wasm or cpu: callers
 * with their own CPU path (the encoder's kernels) then need no tfjs at all.
 */
export async function preferredBackend(): Promise<Exclude<BackendChoice, 'auto'>> {
  if (active) return (await active).name;
  const choice = requested ?? ((process.env.REPGEOM_BACKEND as BackendChoice) || 'auto');
  if (choice !== 'auto') return choice === 'node-gpu' || choice === 'node' ? (await getTf()).name : choice;
  const require = createRequire(import.meta.url);
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(pkg);
      return (await getTf()).name; // a native backend is installed: let tfjs confirm it loads
    } catch {
      // not installed
    }
  }
  return 'wasm';
}

/** Whether tfjs has been initialised in this process (outputs name the backend only then). */
export function tfLoaded(): boolean {
  return active !== undefined;
}

async function initialise(choice: BackendChoice) {
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new UserError(`REPGEOM_BACKEND='${choice}' is not one of ${BACKEND_CHOICES.join(', ')}`);
  }
  const candidates = choice === 'auto' ? PREFERENCE : [choice];
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      const tf = await load(name);
      return { tf, name };
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new UserError(`no usable tfjs backend (${failures.join('; ')})`);
}

async function load(name: Exclude<BackendChoice, 'auto'>): Promise<Tf> {
  const require = createRequire(import.meta.url);
  if (name === 'node-gpu' || name === 'node') {
    // Their own bundle registers the 'tensorflow' backend on import; absent packages throw here.
    const pkg = name === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
    require.resolve(pkg);
    const tf = (await import(pkg)) as unknown as Tf;
    if (!(await tf.setBackend('tensorflow'))) throw new Error('backend did not initialise');
    return tf;
  }
  const tf = await import('@tensorflow/tfjs-core');
  if (name === 'wasm') {
    // The wasm glue installs process-wide handlers that rethrow any uncaught error with the
    // minified module source as its "location"; take them out again.
    const before = new Set<unknown>([...process.listeners('uncaughtException'), ...process.listeners('unhandledRejection')]);
    await import('@tensorflow/tfjs-backend-wasm');
    const ok = await tf.setBackend('wasm');
    for (const l of process.listeners('uncaughtException')) if (!before.has(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!before.has(l)) process.removeListener('unhandledRejection', l);
    if (!ok) throw new Error('wasm backend did not initialise');
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
    if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend did not initialise');
  }
  await tf.ready();
  return tf;
}
