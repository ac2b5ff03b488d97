import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { MAX_BATCH_ITEMS, type BatchResults } from '@ewx/client';
import type { Ctx } from '../context.js';
import { EXIT } from '../program.js';
import { ExitError, parseInteger, UsageError } from '../parse.js';

/**
 * The lines of a CSV file: blank lines and `#` comments skipped, a first line naming the columns
 * (`account,amount`) skipped; each line split on commas and trimmed, with its 1-based line number.
 */
export function csvRows(file: string, columns: readonly string[]): { line: number; cells: string[] }[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`file: cannot read ${JSON.stringify(file)}: ${(e as Error).message}`);
  }
  const rows: { line: number; cells: string[] }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const l = raw.trim();
    if (l === '' || l.startsWith('#')) return;
    const cells = l.split(',').map((c) => c.trim());
    if (rows.length === 0 && cells.join(',').toLowerCase() === columns.join(',')) return;
    if (cells.length !== columns.length)
      throw new UsageError(`file: line ${i + 1}: expected ${columns.length} columns (${columns.join(',')}), got ${cells.length}`);
    rows.push({ line: i + 1, cells });
  });
  if (rows.length === 0) throw new UsageError(`file: no ${columns.join(',')} lines in ${JSON.stringify(file)}`);
  return rows;
}

/** `--chunk <n>`: items per call. */
export const chunkOption = (cmd: Command): Command => cmd.option('--chunk <n>', `items per call, 1 to ${MAX_BATCH_ITEMS}`, String(MAX_BATCH_ITEMS));

export const parseChunk = (s: string): number => parseInteger('chunk', s, 1, MAX_BATCH_ITEMS);

/** A progress bar on stderr (TTY, not --json), or none. */
export function progressBar(ctx: Ctx, what: string, total: number): { update(done: number): void; stop(): void } {
  const bar =
    ctx.json || !process.stderr.isTTY
      ? undefined
      : new cliProgress.SingleBar({ format: `${what} {bar} {value}/{total}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  bar?.start(total, 0);
  return { update: (d) => bar?.update(d), stop: () => bar?.stop() };
}

/**
 * Prints the refused items (line, code, message) and the counts; exits REFUSED (one line) when any
 * item was refused: the others were applied.
 */
export function reportBatch<T extends Record<string, unknown>>(ctx: Ctx, what: string, items: readonly (T & { line: number })[], results: BatchResults): void {
  const refused = results.flatMap((r, i) => (r.code === 0 ? [] : [{ ...items[i]!, code: r.code, message: r.message }]));
  const summary = { total: results.length, applied: results.length - refused.length, refused: refused.length };
  ctx.print({ ...summary, refusedItems: refused }, refused.length ? refused.map((r) => ({ ...r })) : `${summary.applied} ${what} applied`);
  if (refused.length)
    throw new ExitError(
      EXIT.REFUSED,
      `${refused.length} of ${results.length} ${what} refused (the other ${summary.applied} applied); first: line ${refused[0]!.line}: ${refused[0]!.message}`,
    );
}
