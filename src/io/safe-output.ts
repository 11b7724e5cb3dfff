/**
 * The one path every command writes its outputs through. It never destroys what the user did
 * not ask to replace:
 *
 * - the output is checked before any work starts: an empty path, a missing parent folder, a
 *   folder where a file is expected (or the reverse), an output that is one of the command's
 *   inputs or lies inside an input folder, an existing folder that is not a repgeom output;
 * - a regular file is written under a temporary name beside it and renamed into place when
 *   complete; a symbolic link is written through to its target, atomically there; a device, a
 *   FIFO or `/dev/stdout` is written straight through (streamed), never replaced by a rename;
 * - a folder output (a report) is built under a temporary name beside it and swapped in whole,
 *   so the old folder or the new one is there, never a mixture;
 * - temporary files and folders are removed on every exit path this process can see (errors,
 *   SIGINT, SIGTERM, SIGHUP), and so is what `cleanUpAtExit` registers (a folder's lock,
 *   io/folder-lock.ts); those of a killed process (SIGKILL) are removed by the next run that
 *   writes the same output, once their process is gone.
 *
 * Temporary names: `.<name>.tmp-<pid>` beside the output (a staged folder likewise), and
 * `.<name>.old-<pid>` for an old folder during the swap.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import * as os from 'node:os';
import { UserError } from '../errors.js';

/** Node refuses single writes above 2 GiB; stay well below. */
const MAX_WRITE_CHUNK = 1 << 30;

/** What the command reads: an output may be none of these files and lie inside none of these folders. */
export interface CommandInputs {
  files?: readonly (string | undefined)[];
  folders?: readonly (string | undefined)[];
}

export interface FileOutputPlan {
  kind: 'file';
  /** The path as the user gave it (for messages). */
  path: string;
  flag: string;
  /** 'atomic': temporary name + rename at `target`; 'stream': written straight into `target`. */
  mode: 'atomic' | 'stream';
  /** Where the bytes land: the path itself, or a symbolic link's final target. */
  target: string;
}

export interface FolderOutputPlan {
  kind: 'folder';
  path: string;
  flag: string;
  /** Absolute path of the folder. */
  target: string;
  /** Whether a folder is there now (it is replaced whole at the end). */
  exists: boolean;
}

// ---------------------------------------------------------------------------------------------
// Checks made before any work starts.

/** Plan writing one file at `path` (given with `flag`); throws a one-line UserError when it would be unsafe. */
export function planFileOutput(path: string, flag: string, inputs: CommandInputs = {}): FileOutputPlan {
  checkNonEmpty(path, flag);
  const abs = nodePath.resolve(path);
  const st = statOrNull(abs); // follows symbolic links (also /dev/stdout's magic links)
  if (st?.isDirectory()) throw new UserError(`${flag} ${path}: is a folder; give the path of a file to write`);
  let mode: FileOutputPlan['mode'] = 'atomic';
  let target = abs;
  if (st && !st.isFile()) mode = 'stream'; // a device, FIFO, socket or /dev/stdout: write through
  else if (lstatOrNull(abs)?.isSymbolicLink()) target = st ? fs.realpathSync(abs) : resolveDanglingLink(abs, path, flag);
  if (mode === 'atomic') {
    const parent = nodePath.dirname(target);
    const pst = statOrNull(parent);
    if (!pst) throw new UserError(`${flag} ${path}: the folder ${parent} does not exist; create it first`);
    if (!pst.isDirectory()) throw new UserError(`${flag} ${path}: ${parent} is not a folder; choose another path`);
    checkNotAnInput(target, path, flag, inputs);
    removeStaleTemporaries(target);
  }
  return { kind: 'file', path, flag, mode, target };
}

/**
 * Plan writing the folder `path` whole. An existing folder is replaced only when it is empty or
 * an earlier output of the same command with nothing else in it (`whyNotOwnOutput` returns null
 * for such a folder, else the reason), so a typo in `--out` can never swap away a folder of the
 * user's.
 */
export function planFolderOutput(
  path: string, flag: string, inputs: CommandInputs, whyNotOwnOutput: (dir: string) => string | null,
): FolderOutputPlan {
  checkNonEmpty(path, flag);
  const abs = nodePath.resolve(path);
  const st = statOrNull(abs);
  if (st && !st.isDirectory()) throw new UserError(`${flag} ${path}: is a file, not a folder; give a folder path (it is created)`);
  if (lstatOrNull(abs)?.isSymbolicLink()) throw new UserError(`${flag} ${path}: is a symbolic link; give the folder it points to`);
  const parent = nodePath.dirname(abs);
  const pst = statOrNull(parent);
  if (!pst) throw new UserError(`${flag} ${path}: the folder ${parent} does not exist; create it first`);
  if (!pst.isDirectory()) throw new UserError(`${flag} ${path}: ${parent} is not a folder; choose another path`);
  if (abs === nodePath.parse(abs).root) throw new UserError(`${flag} ${path}: cannot replace the root folder; choose another path`);
  restoreInterruptedSwap(abs);
  if (st) {
    const entries = fs.readdirSync(abs);
    if (entries.length > 0) {
      const why = whyNotOwnOutput(abs);
      if (why !== null) throw new UserError(`${flag} ${path}: the folder exists and ${why}; it would be replaced, so choose another --out or remove it first`);
    }
  }
  checkOutsideInputs(path, flag, [...(inputs.files ?? []), ...(inputs.folders ?? [])], 'output folder');
  removeStaleTemporaries(abs);
  return { kind: 'folder', path, flag, target: abs, exists: !!st };
}

/**
 * Refuse an output folder `path` that is one of `inputs`, lies inside one, or holds one (symbolic
 * links followed): writing it could overwrite or mix with what the command reads. `what` names
 * the output in the message ("run folder", "sweep folder").
 */
export function checkOutsideInputs(path: string, flag: string, inputs: readonly (string | undefined)[], what: string): void {
  const abs = realOrResolved(path);
  for (const input of inputs) {
    if (input === undefined) continue;
    const real = realOrResolved(input);
    if (isInside(real, abs) || isInside(abs, real)) {
      throw new UserError(`${flag} ${path}: the ${what} would overlap the input ${input}; choose another ${flag}`);
    }
  }
}

function checkNonEmpty(path: string, flag: string): void {
  if (typeof path !== 'string' || path.trim() === '') throw new UserError(`${flag} is empty; give a path to write`);
  if (path.includes('\0')) throw new UserError(`${flag}: the path contains a NUL byte; give a plain path`);
}

function checkNotAnInput(target: string, path: string, flag: string, inputs: CommandInputs): void {
  for (const input of inputs.files ?? []) {
    if (input === undefined) continue;
    if (sameFile(target, input)) throw new UserError(`${flag} ${path}: is the input ${input}; writing it would destroy the input, so choose another path`);
  }
  for (const folder of inputs.folders ?? []) {
    if (folder === undefined) continue;
    if (isInside(target, realOrResolved(folder))) {
      throw new UserError(`${flag} ${path}: lies inside the input folder ${folder}; write outside it`);
    }
  }
}

function sameFile(a: string, b: string): boolean {
  const sa = statOrNull(a), sb = statOrNull(b);
  if (sa && sb) return sa.dev === sb.dev && sa.ino === sb.ino;
  return realOrResolved(a) === realOrResolved(b);
}

/** `child` is `parent` or lies below it (both absolute, normalised). */
function isInside(child: string, parent: string): boolean {
  const rel = nodePath.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !nodePath.isAbsolute(rel));
}

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    // A path that does not exist yet: resolve what exists of it.
    const abs = nodePath.resolve(p);
    const parent = nodePath.dirname(abs);
    return parent === abs ? abs : nodePath.join(realOrResolved(parent), nodePath.basename(abs));
  }
}

/** Where a dangling symbolic link points (the file is created there). */
function resolveDanglingLink(abs: string, path: string, flag: string): string {
  let current = abs;
  for (let hops = 0; hops < 40; hops++) {
    const st = lstatOrNull(current);
    if (!st?.isSymbolicLink()) return current;
    current = nodePath.resolve(nodePath.dirname(current), fs.readlinkSync(current));
  }
  throw new UserError(`${flag} ${path}: too many levels of symbolic links; give the real path`);
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Temporary names, and their removal on every exit path.

function temporaryName(target: string, tag: 'tmp' | 'old', pid = process.pid): string {
  return nodePath.join(nodePath.dirname(target), `.${nodePath.basename(target)}.${tag}-${pid}`);
}

const live = new Set<string>();
let handlersInstalled = false;

function register(tmp: string): void {
  live.add(tmp);
  installHandlers();
}

function unregister(tmp: string): void {
  live.delete(tmp);
}

function removeQuietly(p: string): void {
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch {
    // Best effort: this runs while the process is going down.
  }
}

/** Remove every temporary of this process now (synchronous: also safe in an 'exit' handler). */
export function removeLiveTemporaries(): void {
  for (const p of live) removeQuietly(p);
  for (const s of swaps) s();
  for (const c of cleanups) {
    try {
      c();
    } catch {
      // Best effort, as above.
    }
  }
  live.clear();
  swaps.clear();
  cleanups.clear();
}

/** Other things to undo on every exit path (a folder lock), synchronous. */
const cleanups = new Set<() => void>();

/**
 * Run `cleanup` (synchronous) when this process ends in any way it can see: a normal exit, an
 * error, SIGINT/SIGTERM/SIGHUP. Returns the function that drops it again (once it has run).
 */
export function cleanUpAtExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  installHandlers();
  return () => { cleanups.delete(cleanup); };
}

/** Undo functions for folder swaps in flight (old folder moved aside, new one not yet in place). */
const swaps = new Set<() => void>();

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** A long job's way to stop at a safe point (a training run saves a checkpoint first). */
let interruptHook: ((signal: NodeJS.Signals) => boolean) | null = null;

/**
 * While `hook` is set, a SIGINT/SIGTERM/SIGHUP for which it returns true does not end the
 * process: the job stops on its own at its next safe point (a second signal it refuses ends it
 * at once, temporaries removed). `null` restores the default.
 */
export function setInterruptHook(hook: ((signal: NodeJS.Signals) => boolean) | null): void {
  interruptHook = hook;
  installHandlers();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', removeLiveTemporaries);
  for (const signal of SIGNALS) {
    process.on(signal, () => {
      if (interruptHook?.(signal)) return;
      removeLiveTemporaries();
      // The status a shell gives a process killed by the signal.
      process.exit(128 + os.constants.signals[signal]);
    });
  }
}

/** Whether a process with this pid is running on this machine (this process counts as running). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** A process that has ended and waits to be reaped (Linux's /proc; elsewhere taken as running). */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (command) state ...`: the command may hold spaces and parentheses, so read after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 1).trim().startsWith('Z');
  } catch {
    return false;
  }
}

/** `.name.<tag>-<pid>` entries beside `target` whose process is gone (killed with SIGKILL, say). */
function leftByDeadProcesses(target: string, tag: 'tmp' | 'old'): string[] {
  const dir = nodePath.dirname(target);
  const prefix = `.${nodePath.basename(target)}.${tag}-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => {
      const pid = Number(name.slice(prefix.length));
      return name.startsWith(prefix) && Number.isInteger(pid) && pid > 0 && !processAlive(pid);
    })
    .map((name) => nodePath.join(dir, name));
}

/** Remove the temporaries a dead process left beside `target`. */
function removeStaleTemporaries(target: string): void {
  for (const p of leftByDeadProcesses(target, 'tmp')) removeQuietly(p);
}

/**
 * Remove every temporary (`.name.tmp-<pid>`) in `dir` whose process is gone: what a killed run
 * left in a folder it resumes (a training run's checkpoint being written when it was killed).
 */
export function removeDeadTemporariesIn(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^\.(.+)\.tmp-(\d+)$/.exec(name);
    if (m) removeStaleTemporaries(nodePath.join(dir, m[1]));
  }
}

/**
 * A folder swap interrupted by SIGKILL between its two renames leaves the old folder at
 * `.name.old-<pid>` and nothing at `name`: put it back. An old folder beside a complete new one
 * is removed.
 */
function restoreInterruptedSwap(target: string): void {
  for (const old of leftByDeadProcesses(target, 'old')) {
    if (lstatOrNull(target) === null) fs.renameSync(old, target);
    else removeQuietly(old);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing.

/** A file being written: bytes go to a temporary name (or straight into a device) until `commit`. */
export class OutputFile {
  private fd: number;
  private readonly tmp: string | null;
  private done = false;

  private constructor(readonly plan: FileOutputPlan) {
    this.tmp = plan.mode === 'atomic' ? temporaryName(plan.target, 'tmp') : null;
    if (this.tmp) register(this.tmp);
    try {
      this.fd = (this.tmp === null ? standardStreamOf(plan.target) : undefined) ?? fs.openSync(this.tmp ?? plan.target, 'w');
    } catch (e) {
      if (this.tmp) unregister(this.tmp);
      throw writeError(plan, e);
    }
  }

  static open(plan: FileOutputPlan): OutputFile {
    return new OutputFile(plan);
  }

  write(chunk: Uint8Array | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    try {
      let done = 0;
      while (done < bytes.byteLength) {
        done += fs.writeSync(this.fd, bytes, done, Math.min(bytes.byteLength - done, MAX_WRITE_CHUNK));
      }
    } catch (e) {
      this.abort();
      throw writeError(this.plan, e);
    }
  }

  /** Close the file and move it into place. */
  commit(): void {
    if (this.done) return;
    this.done = true;
    try {
      if (this.tmp) fs.fsyncSync(this.fd);
      if (this.fd > 2) fs.closeSync(this.fd);
      if (this.tmp) fs.renameSync(this.tmp, this.plan.target);
    } catch (e) {
      if (this.tmp) removeQuietly(this.tmp);
      throw writeError(this.plan, e);
    } finally {
      if (this.tmp) unregister(this.tmp);
    }
  }

  /** Drop what was written (a device keeps what it already received). */
  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      if (this.fd > 2) fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    if (this.tmp) {
      removeQuietly(this.tmp);
      unregister(this.tmp);
    }
  }
}

/**
 * fd 1 or 2 when `path` is this process's stdout or stderr (`/dev/stdout`, `/proc/self/fd/1`, the
 * terminal or pipe they are): written through that descriptor, as opening a socket's name fails.
 */
function standardStreamOf(path: string): number | undefined {
  const st = statOrNull(path);
  if (!st) return undefined;
  for (const fd of [1, 2]) {
    try {
      const s = fs.fstatSync(fd);
      if (s.dev === st.dev && s.ino === st.ino) return fd;
    } catch {
      // no such descriptor
    }
  }
  return undefined;
}

/** Write `chunks` as the whole content of a planned file. */
export function writeOutputFile(plan: FileOutputPlan, chunks: readonly (Uint8Array | string)[]): void {
  const file = OutputFile.open(plan);
  for (const chunk of chunks) file.write(chunk);
  file.commit();
}

/** A folder built under a temporary name beside its final place, swapped in whole by `commit`. */
export class StagedFolder {
  /** Where to write the folder's content until commit. */
  readonly dir: string;
  private done = false;

  constructor(readonly plan: FolderOutputPlan) {
    this.dir = temporaryName(plan.target, 'tmp');
    register(this.dir);
    try {
      fs.mkdirSync(this.dir);
    } catch (e) {
      unregister(this.dir);
      throw writeError(plan, e);
    }
  }

  /** Replace the folder at the final path (if any) by the staged one. */
  commit(): void {
    if (this.done) return;
    this.done = true;
    const target = this.plan.target;
    const old = temporaryName(target, 'old');
    try {
      if (lstatOrNull(target)) {
        fs.renameSync(target, old);
        const undo = () => {
          if (lstatOrNull(target) === null && lstatOrNull(old)) fs.renameSync(old, target);
        };
        swaps.add(undo);
        fs.renameSync(this.dir, target);
        swaps.delete(undo);
        removeQuietly(old);
      } else {
        fs.renameSync(this.dir, target);
      }
    } catch (e) {
      if (lstatOrNull(target) === null && lstatOrNull(old)) fs.renameSync(old, target);
      removeQuietly(this.dir);
      throw writeError(this.plan, e);
    } finally {
      unregister(this.dir);
    }
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    removeQuietly(this.dir);
    unregister(this.dir);
  }
}

const ERRNO_WORDS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EISDIR: 'is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  ENOENT: 'the folder does not exist',
  EEXIST: 'already exists',
  EIO: 'input/output error',
  EFBIG: 'file too large for the file system',
  ENAMETOOLONG: 'the name is too long',
};

function writeError(plan: FileOutputPlan | FolderOutputPlan, e: unknown): UserError {
  if (e instanceof UserError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const why = (code && ERRNO_WORDS[code]) ?? code ?? (e as Error).message;
  return new UserError(`${plan.flag} ${plan.path}: cannot write (${why}); check the path, its permissions and the free space`);
}
