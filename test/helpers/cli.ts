/** Run the CLI from source as a user would, in a child process, and capture what it prints. */
import assert from 'node:assert/strict';
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

/**
 * The error contract: exit status 2, one `repgeom: …` line on stderr matching `pattern` (warnings
 * before it aside), no stack trace, nothing on stdout.
 */
export function expectUserError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.status, 2, `exit status ${r.status}; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('repgeom: warning:'));
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], /^repgeom: /);
  assert.doesNotMatch(lines[0], /\bat .*:\d+:\d+/, 'no stack trace');
  assert.match(lines[0], pattern);
  assert.equal(r.stdout, '');
}
