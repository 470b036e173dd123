/**
 * Run in a child process (`node --import tsx decode-memory-probe.ts <file> <count> [budgetBytes]`):
 * decodes `count` copies of the image file at once, through one decode budget when given one, and
 * prints one JSON line: the process's peak resident memory (VmHWM) before and after, in bytes, the
 * time taken and the outcome of each decode. A fresh process, so the peak is the decodes' own.
 */
import { readFileSync } from 'node:fs';
import { decodeImage } from '../../lib/images/decode.ts';
import { createDecodeBudget } from '../../lib/images/decode-budget.ts';

const [file, count = '1', budgetBytes] = process.argv.slice(2);
if (!file) throw new Error('usage: decode-memory-probe.ts <file> <count> [budgetBytes]');

const peakBytes = () => Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
const bytes = readFileSync(file);
const budget = budgetBytes
  ? createDecodeBudget({ capacityBytes: Number(budgetBytes), waitTimeoutMs: Number.POSITIVE_INFINITY })
  : undefined;
const before = peakBytes();
const started = performance.now();
const outcomes = await Promise.all(
  Array.from({ length: Number(count) }, () =>
    decodeImage(bytes, { width: 224, height: 224 }, { maxPixels: 50_000_000, budget }).then(
      (pixels) => `ok ${pixels.length}`,
      (error: Error & { code?: string }) => `${error.name} ${error.code ?? error.message}`,
    ),
  ),
);
console.log(JSON.stringify({ before, peak: peakBytes(), ms: Math.round(performance.now() - started), outcomes }));
