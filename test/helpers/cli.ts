/** Run the CLI from source as a user would, in a child process, and capture what it prints. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
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

/**
 * Run the CLI with `args` in a child and, once `<out>/checkpoints/<checkpoint>` exists, send it
 * `signal`; resolves with how it exited (a 120 s guard kills a child that hangs).
 */
export function interruptAtCheckpoint(args: string[], out: string, checkpoint: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return interruptWhen(args, () => existsSync(join(out, 'checkpoints', checkpoint)), signal);
}

/** Run the CLI with `args` in a child and send it `signal` once `ready()` holds (polled every 5 ms). */
export function interruptWhen(args: string[], ready: () => boolean, signal: NodeJS.Signals): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setInterval(() => {
      if (ready()) { clearInterval(timer); child.kill(signal); }
    }, 5);
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('hang guard: the child ran for 120 s')); }, 120_000);
    child.on('exit', (code, sig) => { clearInterval(timer); clearTimeout(guard); resolve({ code, signal: sig, stderr }); });
  });
}
