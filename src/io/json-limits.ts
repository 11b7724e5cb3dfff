/**
 * JSON from files we do not control (safetensors headers, JSONL records, config files): parsing
 * is iterative in V8, but anything that walks the result recursively (JSON.stringify in a
 * message, our own checks) overflows the stack on deeply nested brackets. So the nesting depth is
 * checked on the text first, in one linear pass, and values shown in messages are cut short.
 */
import { UserError } from '../errors.js';

/** Deeper than any real header, record or config (HF configs nest 3–4 levels). */
export const MAX_JSON_DEPTH = 100;

/** The index of the first bracket that opens level `maxDepth + 1`, or -1 (brackets in strings ignored). */
export function excessiveNesting(text: string, maxDepth: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return -1;
}

/**
 * JSON.parse with the nesting bounded; `where` names the file (and line) in messages, `fix` says
 * what to do. Syntax errors and excessive nesting are UserErrors.
 */
export function parseJson(text: string, where: string, fix: string, maxDepth = MAX_JSON_DEPTH): unknown {
  const deep = excessiveNesting(text, maxDepth);
  if (deep >= 0) {
    throw new UserError(`${where} is JSON nested more than ${maxDepth} levels deep (at character ${deep}); ${fix}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${where} is not valid JSON (${(e as Error).message.slice(0, 120)}); ${fix}`);
  }
}

/** A short one-line JSON rendering of `value` for a message (cut at `max` characters). */
export function preview(value: unknown, max = 80): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? '[…]' : typeof value === 'object' ? '{…}' : String(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
