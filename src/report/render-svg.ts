/**
 * Vega-Lite → SVG in Node, with no canvas and no network: the spec is compiled to Vega, run in a
 * headless View (renderer 'none'; text width is then estimated from the font size, which never
 * throws) and serialised with `toSVG()`. The View gets a loader that refuses every URL, so a spec
 * that names external data fails instead of fetching it.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface RenderOptions {
  /** Called with every warning of Vega-Lite or Vega (default: warnings are dropped). */
  onWarning?: (message: string) => void;
  /**
   * Prefix of the element ids in the SVG (gradients, clip paths). Several SVGs inlined in one
   * HTML page share one id namespace, so each needs its own prefix; default 'chart'.
   */
  idPrefix?: string;
}

/** Render a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec, options: RenderOptions = {}): Promise<string> {
  const errors: string[] = [];
  const logger = makeLogger(errors, options.onWarning);
  const compiled = compile(spec, { logger });
  if (errors.length > 0) throw new Error(`chart compilation failed: ${errors.join('; ')}`);
  const refused: string[] = [];
  const view = new vega.View(vega.parse(compiled.spec), { renderer: 'none', loader: offlineLoader(refused), logger });
  try {
    const svg = await view.toSVG();
    // Vega reports a failed load as a mere warning and draws an empty chart: make it an error.
    if (refused.length > 0) throw new Error(`chart rendering failed: charts are rendered offline, refusing to load ${refused.join(', ')}`);
    if (errors.length > 0) throw new Error(`chart rendering failed: ${errors.join('; ')}`);
    return uniqueIds(svg, options.idPrefix ?? 'chart');
  } finally {
    view.finalize();
  }
}

/** A loader that refuses all loading (and notes what was asked): the charts carry their data inline. */
function offlineLoader(refused: string[]): vega.Loader {
  const refuse = (uri: string): Promise<never> => {
    refused.push(JSON.stringify(uri));
    return Promise.reject(new Error(`repgeom renders charts offline; refusing to load ${JSON.stringify(uri)}`));
  };
  return {
    load: (uri: string) => refuse(uri),
    sanitize: (uri: string) => refuse(uri),
    http: (uri: string) => refuse(uri),
    file: (filename: string) => refuse(filename),
  };
}

type LoggerInterface = NonNullable<vega.ViewOptions['logger']>;

/** A Vega logger: errors are collected, warnings go to `onWarning`, info and debug are dropped. */
function makeLogger(errors: string[], onWarning: ((message: string) => void) | undefined): LoggerInterface {
  const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  let level = 2; // vega's Warn
  const logger: LoggerInterface = {
    level(value?: number) {
      if (value === undefined) return level;
      level = value;
      return logger;
    },
    error(...args: unknown[]) {
      errors.push(text(args));
      return logger;
    },
    warn(...args: unknown[]) {
      onWarning?.(text(args));
      return logger;
    },
    info() { return logger; },
    debug() { return logger; },
  };
  return logger;
}

/**
 * Rename every `id="x"` of the SVG to `<prefix>-<n>` and the references to it (`url(#x)`,
 * `href="#x"`), so the output is deterministic and several SVGs can share one page.
 */
export function uniqueIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) {
    if (!ids.has(m[1])) ids.set(m[1], `${prefix}-${ids.size + 1}`);
  }
  if (ids.size === 0) return svg;
  const rename = (id: string) => ids.get(id) ?? id;
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (_, a: string, id: string, b: string) => a + rename(id) + b)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${rename(id)})`)
    .replace(/(href=")#([^"]+)(")/g, (_, a: string, id: string, b: string) => `${a}#${rename(id)}${b}`);
}
