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

/**
 * A metric that is undefined on this particular point cloud (all points identical, zero
 * variance, too few distinct points...): not a bad input, so `measure` records it as `null` with
 * this message as the reason and goes on with the other metrics and layers. Called directly,
 * the metric still throws (a UserError, so the CLI prints it as one line).
 */
export class MetricUndefined extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'MetricUndefined';
  }
}

/** Throw MetricUndefined unless `condition` holds. */
export function definedIf(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new MetricUndefined(typeof message === 'function' ? message() : message);
}
