/**
 * How much memory this process may still use, for checks before large allocations (model
 * weights, worker threads). The smallest of: the system's available memory (MemAvailable on
 * Linux), the cgroup limit of a container, and REPGEOM_MEMORY (a budget the user sets, e.g.
 * `4G`; it also lets tests stand in for a small machine).
 */
import * as os from 'node:os';
import { UserError } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export function availableMemory(): number {
  let bytes = os.freemem();
  const limit = process.constrainedMemory?.() ?? 0;
  if (limit > 0 && limit < Number.MAX_SAFE_INTEGER) bytes = Math.min(bytes, Math.max(0, limit - process.memoryUsage.rss()));
  const budget = process.env.REPGEOM_MEMORY;
  if (budget !== undefined && budget !== '') bytes = Math.min(bytes, parseSize(budget));
  return bytes;
}

function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$/i.exec(text);
  if (!m) throw new UserError(`REPGEOM_MEMORY='${text}' is not a size; give bytes or a size such as 512M or 4G`);
  return Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]);
}

/** 1536 → "1.5 KB"; binary units, as memory is counted. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${Math.round(v)} bytes` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}
