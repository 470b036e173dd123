/** What `classify` prints: a table or JSON lines on stdout, and a progress bar on a terminal's stderr. */
import type { CliResult } from './backends.ts';

export function jsonLine(result: CliResult): string {
  return JSON.stringify(
    result.ok
      ? { file: result.label, predictions: result.predictions }
      : { file: result.label, error: { code: result.code, message: result.message } },
  );
}

export function table(results: CliResult[], top: number): string {
  const header = ['FILE', 'TOP-1', 'SCORE', ...(top > 1 ? [`NEXT ${top - 1}`] : [])];
  const rows = results.map((r) =>
    r.ok
      ? [
          r.label,
          r.predictions[0]!.name,
          r.predictions[0]!.score.toFixed(4),
          ...(top > 1
            ? [
                r.predictions
                  .slice(1)
                  .map((p) => `${p.name} ${p.score.toFixed(4)}`)
                  .join(', '),
              ]
            : []),
        ]
      : [r.label, `error ${r.code}`, '', ...(top > 1 ? [r.message] : [])],
  );
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((row) => (row[c] ?? '').length)));
  const format = (row: string[]) =>
    row
      .map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  const failed = results.filter((r) => !r.ok);
  const lines = [format(header), ...rows.map(format)];
  if (top === 1) for (const r of failed) if (!r.ok) lines.push(`${r.label}: ${r.message}`);
  lines.push(
    `${results.length} image${results.length === 1 ? '' : 's'}: ` +
      `${results.length - failed.length} classified, ${failed.length} failed`,
  );
  return lines.join('\n');
}

/** A progress bar only where someone watches it: both streams on a terminal, and enough images. */
export function shouldShowProgress(options: {
  forced?: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  images: number;
}): boolean {
  return options.forced ?? (options.stdoutIsTTY && options.stderrIsTTY && options.images >= 5);
}

export function progressBar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}
