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

/** A UserError unless `text` nests at most `maxDepth` brackets; `where` names the file. */
export function checkNesting(text: string, where: string, fix: string, maxDepth = MAX_JSON_DEPTH): void {
  const deep = excessiveNesting(text, maxDepth);
  if (deep >= 0) throw new UserError(`${where}: JSON nested more than ${maxDepth} levels deep (at character ${deep}); ${fix}`);
}

/**
 * The message of a JSON.parse error on one short line: V8 quotes the text around the error,
 * which may hold newlines and control characters.
 */
export function syntaxError(e: unknown): string {
  const text = (e instanceof Error ? e.message : String(e)).replace(/[\s\x00-\x1f\x7f]+/g, ' ');
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
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
    throw new UserError(`${where} is not valid JSON (${syntaxError(e)}); ${fix}`);
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

/** A name read from a file (tensor, column, member, field), cut short and with control characters escaped, for a one-line message. */
export function shownName(name: string, max = 60): string {
  const escaped = JSON.stringify(name.length > max ? name.slice(0, max) : name).slice(1, -1);
  return name.length > max ? `${escaped}…` : escaped;
}
