/**
 * Let the event loop run (signals, timers, I/O callbacks) inside long CPU-bound loops whose awaits
 * resolve at once: without it Ctrl-C and SIGTERM wait until the whole job is done.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
