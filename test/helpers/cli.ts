/** Run the CLI from source as a user would, in a child process, and capture what it prints. */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const MAIN = resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

export interface CliResult { status: number | null; stdout: string; stderr: string }

export function repgeom(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
