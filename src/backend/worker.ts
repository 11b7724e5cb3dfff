/**
 * Starting a worker thread on one of our own modules, compiled (.js) or under tsx (.ts, tests
 * and `node --import tsx`): Node does not hand tsx's loader to worker threads, so a .ts module
 * is started from a small script that registers tsx first.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function spawnModuleWorker(module: URL, options: WorkerOptions = {}): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(module.href)}); });`;
  return new Worker(code, { ...options, eval: true });
}
