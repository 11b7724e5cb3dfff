/**
 * A lock file in an output folder, so two processes never write one folder at once (a run folder
 * resumed by two `train` commands, a Slurm task beside a local sweep). It is created with O_EXCL
 * and holds {host, pid, started}; it is removed when the work ends, on errors, and on
 * SIGINT/SIGTERM/SIGHUP through safe-output's exit cleanup. Only SIGKILL (or a lost node) leaves
 * it behind: a lock of a dead process on this host is taken over; a live one, or one from another
 * host (whose processes cannot be looked up from here), is refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { cleanUpAtExit, processAlive } from './safe-output.js';
import { readTextFileSync } from './file-io.js';

export interface LockHolder { host: string; pid: number; started: string }

export interface FolderLock {
  path: string;
  /** The dead process whose lock was taken over, if one was. */
  tookOverFrom: LockHolder | null;
  /** Remove the lock (if it is still this process's); idempotent. */
  release(): void;
}

/** Lock paths this process holds (taking one twice is a bug, not a stale lock). */
const held = new Set<string>();

/**
 * Take the lock `name` in `dir` (`what` names the folder for messages, e.g. `--out runs/a`);
 * throws a one-line UserError while another process holds it.
 */
export function lockFolder(dir: string, name: string, what: string): FolderLock {
  const path = join(dir, name);
  if (held.has(path)) throw new Error(`${path}: this process already holds the lock`);
  const me: LockHolder = { host: os.hostname(), pid: process.pid, started: new Date().toISOString() };
  const release = () => {
    drop();
    if (!held.delete(path)) return;
    // Remove only our own lock: one that was deleted by hand and taken by another process stays.
    const now = readHolder(path);
    if (now !== null && now.host === me.host && now.pid === me.pid && now.started === me.started) fs.rmSync(path, { force: true });
  };
  // The signal handlers are in place before the file exists, so no signal can leave it behind.
  const drop = cleanUpAtExit(release);
  let tookOverFrom: LockHolder | null = null;
  try {
    // A second try after taking over a stale lock; a third in case another process took it between.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createExclusive(path, `${JSON.stringify(me)}\n`, what)) {
        held.add(path);
        return { path, tookOverFrom, release };
      }
      const holder = readHolderPatiently(path);
      if (holder === null && !fs.existsSync(path)) continue; // released meanwhile
      if (holder === null) {
        throw new UserError(`${what}: the lock ${path} is not a repgeom lock ({host, pid, started}); if no repgeom process is writing this folder, delete it and run the same command again`);
      }
      const thisHost = holder.host === me.host;
      if (thisHost && (holder.pid === process.pid || !processAlive(holder.pid))) {
        // Its process is gone (killed with SIGKILL): take it over, unless another process just did.
        const again = readHolder(path);
        if (again !== null && again.pid === holder.pid && again.started === holder.started) fs.rmSync(path, { force: true });
        tookOverFrom = holder;
        continue;
      }
      throw new UserError(thisHost
        ? `${what}: another repgeom process (pid ${holder.pid} on this host ${holder.host}, started ${holder.started}) is writing this folder (lock ${path}); wait for it to end or stop it (kill ${holder.pid}), then run the same command again`
        : `${what}: a repgeom process on host ${holder.host} (pid ${holder.pid}, started ${holder.started}) is writing this folder (lock ${path}); wait for it to end, or, if that job is gone, delete ${path} and run the same command again`);
    }
    throw new UserError(`${what}: other processes keep taking the lock ${path}; make sure one command at a time writes this folder, then run it again`);
  } catch (e) {
    drop();
    throw e;
  }
}

/** Create `path` holding `text` if it does not exist (O_EXCL); false if it does. */
function createExclusive(path: string, text: string, what: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(path, 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    throw new UserError(`${what}: cannot create the lock ${path} (${code ?? (e as Error).message}); check the folder's permissions and free space`);
  }
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** The lock's holder, or null when the file is missing, empty or not a lock. */
export function readHolder(path: string): LockHolder | null {
  let value: unknown;
  try {
    value = JSON.parse(readTextFileSync(path));
  } catch {
    return null;
  }
  const h = value as Partial<LockHolder> | null;
  if (h === null || typeof h !== 'object' || typeof h.host !== 'string' || h.host === '' || !Number.isInteger(h.pid) || (h.pid as number) <= 0 || typeof h.started !== 'string') return null;
  return { host: h.host, pid: h.pid as number, started: h.started };
}

/** As readHolder, waiting up to half a second for a lock just created and not yet written. */
function readHolderPatiently(path: string): LockHolder | null {
  for (let i = 0; ; i++) {
    const h = readHolder(path);
    if (h !== null || i === 10 || !fs.existsSync(path)) return h;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}
