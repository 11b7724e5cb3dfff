/** Assertions about user errors: a UserError with a one-line message. */
import assert from 'node:assert/strict';
import { UserError } from '../../src/errors.js';

/** Assert that `fn` throws a one-line UserError matching every pattern. */
export function throwsUser(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `message is not one line: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}
