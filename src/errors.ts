/**
 * An error caused by the user's input (a missing file, a malformed header, NaN in the data, too
 * few points...). The CLI prints its message as one line and exits with status 2; anything else
 * is a bug and keeps its stack trace.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** Throw a UserError unless `condition` holds. */
export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new UserError(typeof message === 'function' ? message() : message);
}
