/**
 * Preloaded into CLI child processes by the fuzz tests (`node --import <this>`): on exit, writes
 * the process's peak resident memory (kB, process.resourceUsage().maxRSS) to the file named by
 * REPGEOM_RSS_FILE. Test-only: it never ships in src/.
 */
import { writeFileSync } from 'node:fs';

const target = process.env.REPGEOM_RSS_FILE;
if (target) process.on('exit', () => writeFileSync(target, String(process.resourceUsage().maxRSS)));
