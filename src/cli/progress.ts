/**
 * Progress for long work, on stderr: a redrawn bar on a terminal, otherwise (logs, CI) a line at
 * most every 5 seconds. Nothing is shown for work that finishes within the first second.
 */
export interface Progress {
  /** `note`: extra text after the counts (a training loss, say). */
  update(label: string, done: number, total: number, note?: string): void;
  done(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false, unit = 'rows'): Progress {
  let start = Date.now();
  let lastDraw = 0, drawn = false, lastLabel = '';
  const tty = stream.isTTY === true;
  return {
    update(label, done, total, note) {
      if (quiet) return;
      const now = Date.now();
      // A new phase (extract, then each metric pass) gets its own clock, so rates and ETAs are its own.
      if (label !== lastLabel) {
        lastLabel = label;
        start = now;
      }
      if (now - start < 1000 || now - lastDraw < (tty ? 100 : 5000)) return;
      lastDraw = now;
      const fraction = total > 0 ? Math.min(1, done / total) : 0;
      const seconds = (now - start) / 1000;
      const rate = done / seconds;
      const eta = rate > 0 && total > done ? ` eta ${Math.ceil((total - done) / rate)}s` : '';
      const counts = `${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${unit}${note ? ` ${note}` : ''}`;
      if (tty) {
        const width = 28, filled = Math.round(fraction * width);
        stream.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${counts}${eta}\x1b[K`);
        drawn = true;
      } else {
        stream.write(`${label}: ${(fraction * 100).toFixed(1)}% ${counts} (${seconds.toFixed(0)}s${eta})\n`);
      }
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
