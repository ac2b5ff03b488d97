/** Values as JSON can carry them: bigint → decimal string, bytes → hex. */
export function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

export const cell = (v: unknown): string => {
  const p = plain(v);
  if (p === undefined || p === null || p === '') return '-';
  if (Array.isArray(p)) return p.length === 0 ? '-' : p.map(cell).join(', ');
  if (typeof p === 'object') return JSON.stringify(p);
  return String(p);
};

/** A table with aligned columns, headers from the first row's keys. */
export function table(rows: readonly Record<string, unknown>[], columns?: readonly string[]): string {
  if (rows.length === 0) return '(none)';
  const cols = columns ?? Object.keys(rows[0]!);
  const cells = [cols.map((c) => c.toUpperCase()), ...rows.map((r) => cols.map((c) => cell(r[c])))];
  const widths = cols.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** One record as `key  value` lines. */
export function record(r: Record<string, unknown>): string {
  const keys = Object.keys(r);
  const w = Math.max(...keys.map((k) => k.length));
  return keys.map((k) => `${k.padEnd(w)}  ${cell(r[k])}`).join('\n');
}
