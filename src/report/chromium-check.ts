/**
 * Open a report page in headless Chromium and report what a reader's browser would see: how many
 * `<svg>` elements the rendered DOM holds, every console error or uncaught exception, every
 * request to something other than a local file or a data: URL, and optionally a full-page
 * screenshot.
 *
 * Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: the
 * browser reads NUL-terminated JSON commands on fd 3 and writes replies and events on fd 4), so
 * no port is opened and the console messages arrive typed — `console.error` and uncaught
 * exceptions (Runtime domain) and browser-side errors such as failed loads or CSP violations
 * (Log domain) — instead of being scraped from log lines that do not tell error from info.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable, Writable } from 'node:stream';

export interface ChromiumCheckOptions {
  /** Write a full-page PNG screenshot here. */
  screenshot?: string;
  /** Viewport width in CSS pixels (default 1280). */
  width?: number;
  /** The Chromium executable (default: $CHROMIUM, then /usr/bin/chromium and the usual names). */
  chromium?: string;
  /** Give up after this many milliseconds (default 60 000). */
  timeoutMs?: number;
}

export interface ChromiumCheckResult {
  /** `<svg` elements in the rendered DOM (what `--dump-dom` prints). */
  svgCount: number;
  /** console.error / console.assert messages, uncaught exceptions and browser error log entries. */
  consoleErrors: string[];
  /** URLs the page requested that are not file:, data:, blob: or about: URLs. */
  externalRequests: string[];
  /** The screenshot written, when one was asked for. */
  screenshot?: string;
}

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The Chromium executable to use, or null when none is installed. */
export function findChromium(): string | null {
  const fromEnv = process.env.CHROMIUM;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  return CANDIDATES.find((c) => existsSync(c)) ?? null;
}

/** The flags Chromium is started with (headless, as root in a container, no GPU). */
export function chromiumFlags(userDataDir: string): string[] {
  return [
    '--headless', // the new headless mode: the only one left in current Chromium
    '--no-sandbox', // containers run as root, where the sandbox refuses to start
    '--disable-gpu',
    '--disable-dev-shm-usage', // small /dev/shm in containers
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-extensions',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--hide-scrollbars',
    '--mute-audio',
    `--user-data-dir=${userDataDir}`,
    '--remote-debugging-pipe',
    'about:blank',
  ];
}

/** Load `htmlPath` in headless Chromium and collect its console errors and rendered SVG count. */
export async function checkHtmlInChromium(htmlPath: string, options: ChromiumCheckOptions = {}): Promise<ChromiumCheckResult> {
  const executable = options.chromium ?? findChromium();
  if (!executable || !existsSync(executable)) {
    throw new Error(
      `Chromium not found${executable ? ` at ${executable}` : ''}; install it (Debian: apt-get install chromium) or set CHROMIUM to its path`,
    );
  }
  const page = resolve(htmlPath);
  if (!existsSync(page)) throw new Error(`${htmlPath}: no such file`);
  const width = options.width ?? 1280;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const profile = mkdtempSync(join(tmpdir(), 'repgeom-chromium-'));
  const child = spawn(executable, chromiumFlags(profile), {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    detached: true, // its own process group, so a hung browser is killed with all its helpers
  });
  let stderrTail = '';
  child.stderr!.on('data', (b: Buffer) => { stderrTail = (stderrTail + b.toString()).slice(-4000); });
  const cdp = new Cdp(child);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Chromium did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([run(cdp, pathToFileURL(page).href, width, options.screenshot), timeout, cdp.closed]);
  } catch (e) {
    const tail = stderrTail.split('\n').filter((l) => l && !/dbus|bus\.cc|vaapi|sandbox_linux|Floss|idle_linux|property\.cc/.test(l)).slice(-5).join('\n');
    throw new Error(`${(e as Error).message}${tail ? `\nChromium stderr:\n${tail}` : ''}`);
  } finally {
    clearTimeout(timer);
    await cdp.shutdown();
    rmSync(profile, { recursive: true, force: true });
  }
}

async function run(cdp: Cdp, url: string, width: number, screenshot: string | undefined): Promise<ChromiumCheckResult> {
  const { targetId } = (await cdp.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
  const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
  const consoleErrors: string[] = [];
  const externalRequests: string[] = [];
  cdp.on((method, params, session) => {
    if (session !== sessionId) return;
    if (method === 'Runtime.consoleAPICalled' && (params.type === 'error' || params.type === 'assert')) {
      consoleErrors.push(`console.${params.type}: ${consoleText(params.args as RemoteObject[])}`);
    } else if (method === 'Runtime.exceptionThrown') {
      const d = params.exceptionDetails as { text?: string; exception?: RemoteObject; url?: string; lineNumber?: number };
      consoleErrors.push(`uncaught: ${d.exception?.description ?? d.exception?.value ?? d.text ?? 'exception'}`);
    } else if (method === 'Log.entryAdded') {
      const entry = params.entry as { level: string; text: string; url?: string; source?: string };
      if (entry.level === 'error') consoleErrors.push(`${entry.source ?? 'log'}: ${entry.text}${entry.url ? ` (${entry.url})` : ''}`);
    } else if (method === 'Network.requestWillBeSent') {
      const u = (params.request as { url: string }).url;
      if (!/^(file|data|blob|about):/i.test(u)) externalRequests.push(u);
    }
  });
  await Promise.all(['Runtime.enable', 'Log.enable', 'Page.enable', 'Network.enable'].map((m) => cdp.send(m, {}, sessionId)));
  await cdp.send('Emulation.setDeviceMetricsOverride', { width, height: 900, deviceScaleFactor: 1, mobile: false }, sessionId);
  const loaded = cdp.waitFor('Page.loadEventFired', sessionId);
  const nav = (await cdp.send('Page.navigate', { url }, sessionId)) as { errorText?: string };
  if (nav.errorText) throw new Error(`Chromium could not open ${url}: ${nav.errorText}`);
  await loaded;
  // Let timers and late errors of a page's scripts fire (a report page has none).
  await new Promise((r) => setTimeout(r, 250));
  const dom = (await cdp.send('Runtime.evaluate', { expression: 'document.documentElement.outerHTML', returnByValue: true }, sessionId)) as {
    result: { value: string };
  };
  const svgCount = (dom.result.value.match(/<svg[\s>]/gi) ?? []).length;
  const result: ChromiumCheckResult = { svgCount, consoleErrors, externalRequests };
  if (screenshot) {
    const metrics = (await cdp.send('Page.getLayoutMetrics', {}, sessionId)) as { cssContentSize: { width: number; height: number } };
    const height = Math.min(Math.ceil(metrics.cssContentSize.height), 16_000);
    const shot = (await cdp.send(
      'Page.captureScreenshot',
      { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width, height, scale: 1 } },
      sessionId,
    )) as { data: string };
    writeFileSync(screenshot, Buffer.from(shot.data, 'base64'));
    result.screenshot = screenshot;
  }
  return result;
}

interface RemoteObject { type: string; value?: unknown; description?: string; unserializableValue?: string }

function consoleText(args: RemoteObject[] | undefined): string {
  return (args ?? [])
    .map((a) => (a.value !== undefined ? (typeof a.value === 'string' ? a.value : JSON.stringify(a.value)) : a.unserializableValue ?? a.description ?? a.type))
    .join(' ');
}

type Listener = (method: string, params: Record<string, unknown>, sessionId: string | undefined) => void;

/** A minimal DevTools-protocol client over Chromium's --remote-debugging-pipe file descriptors. */
class Cdp {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string }>();
  private listeners: Listener[] = [];
  private buffer = '';
  private readonly input: Writable;
  /** Rejects when the browser exits before we are done. */
  readonly closed: Promise<never>;
  private exited = false;

  constructor(private readonly child: ChildProcess) {
    this.input = child.stdio[3] as Writable;
    const output = child.stdio[4] as Readable;
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => this.receive(chunk));
    this.input.on('error', () => { /* reported through `closed` */ });
    this.closed = new Promise<never>((_, reject) => {
      const fail = (why: string) => {
        this.exited = true;
        const e = new Error(`Chromium ${why}`);
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
        reject(e);
      };
      child.on('error', (e) => fail(`could not start: ${e.message}`));
      child.on('exit', (code, signal) => fail(`exited early (${signal ?? `status ${code}`})`));
    });
    this.closed.catch(() => { /* observed by whoever races it */ });
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error(`Chromium is not running (${method})`));
    const id = this.nextId++;
    const message = JSON.stringify(sessionId ? { id, method, params, sessionId } : { id, method, params });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.input.write(`${message}\0`);
    });
  }

  on(listener: Listener): void {
    this.listeners.push(listener);
  }

  waitFor(event: string, sessionId: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      const listener: Listener = (method, params, session) => {
        if (method === event && session === sessionId) {
          this.listeners = this.listeners.filter((l) => l !== listener);
          resolve(params);
        }
      };
      this.listeners.push(listener);
    });
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\0')) >= 0) {
      const text = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 1);
      let message: { id?: number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: { message: string }; sessionId?: string };
      try {
        message = JSON.parse(text);
      } catch {
        continue;
      }
      if (message.id !== undefined) {
        const p = this.pending.get(message.id);
        if (!p) continue;
        this.pending.delete(message.id);
        if (message.error) p.reject(new Error(`${p.method}: ${message.error.message}`));
        else p.resolve(message.result);
      } else if (message.method) {
        for (const l of [...this.listeners]) l(message.method, message.params ?? {}, message.sessionId);
      }
    }
  }

  /** Ask the browser to close, and kill it if it has not gone within two seconds. */
  async shutdown(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (!this.exited) this.send('Browser.close').catch(() => { /* it is closing */ });
    const timer = setTimeout(() => {
      try {
        process.kill(-this.child.pid!, 'SIGKILL'); // the group of the browser we started
      } catch {
        this.child.kill('SIGKILL');
      }
    }, 2000);
    await gone;
    clearTimeout(timer);
  }
}
