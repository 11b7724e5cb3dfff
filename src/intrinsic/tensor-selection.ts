/**
 * Which of the model's trainable HF tensors a subspace projects (`--include=` / `--exclude=`).
 * A pattern with `*` or `?` is a glob over the whole tensor name (`*` any run of characters,
 * `?` one character); any other pattern matches as a substring. A tensor is selected when it
 * matches some --include pattern (every tensor when --include is absent) and no --exclude
 * pattern.
 */
import { check } from '../errors.js';
import type { Parameter } from '../models/parameters.js';

export function patternMatches(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return name.includes(pattern);
  const re = new RegExp(`^${pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.+()[\]{}|/]/g, '\\$&'))).join('')}$`);
  return re.test(name);
}

/** "a,b" -> ['a', 'b'] (empty parts dropped); an empty list is refused. */
export function parsePatterns(text: string, flag: string): string[] {
  const parts = String(text).split(',').map((s) => s.trim()).filter((s) => s !== '');
  check(parts.length > 0, `${flag} is empty; give comma-separated tensor name patterns, e.g. ${flag}=attention,classifier.*`);
  return parts;
}

export function selectTensors(params: readonly Parameter[], include: readonly string[] | null, exclude: readonly string[]): Parameter[] {
  const selected = params.filter((p) => (include === null || include.some((q) => patternMatches(q, p.name))) && !exclude.some((q) => patternMatches(q, p.name)));
  const flags = [include ? `--include=${include.join(',')}` : '', exclude.length ? `--exclude=${exclude.join(',')}` : ''].filter(Boolean).join(' ');
  check(selected.length > 0, `${flags || 'the tensor filters'} select none of the model's ${params.length} tensors (e.g. ${params[0]?.name ?? '—'}); patterns match as substrings, or as globs when they hold * or ?`);
  return selected;
}
