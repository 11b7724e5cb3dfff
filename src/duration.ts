/**
 * A span of time for progress lines and estimates ("88 s", "4 min 12 s", "3 h 20 min"): the one
 * format every command prints (a sweep's ETA, a run's time), so it sits below all layers.
 */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
