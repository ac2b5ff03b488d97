import type { AuditReport } from './types.js';

const pad = (rows: string[][]): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
};

/** The human report: each divergence with service, position and both values, then the summary table. */
export function formatReport(r: AuditReport, opts: { notes?: boolean } = {}): string {
  const lines: string[] = [`audit of ${r.source}`];
  for (const d of r.divergences) {
    lines.push(
      `DIVERGENCE ${d.service}${d.position !== undefined ? ` @${d.position}` : ''}${d.streamId !== undefined ? ` (${d.streamId} v${d.version})` : ''} [${d.check}]: ${d.message}`,
    );
    if (d.expected !== undefined) lines.push(`  rules:    ${d.expected}`);
    if (d.recorded !== undefined) lines.push(`  recorded: ${d.recorded}`);
  }
  const pending = r.notes.filter((n) => n.kind === 'pending');
  if (opts.notes) for (const n of r.notes) lines.push(`note ${n.service}${n.position !== undefined ? ` @${n.position}` : ''} [${n.kind}]: ${n.message}`);
  else for (const n of pending) lines.push(`pending: ${n.message}`);
  const rows = [['SERVICE', 'EVENTS', 'LAST POSITION', 'CHECKS', 'DIVERGENCES']];
  for (const s of r.services) {
    const checks = Object.entries(s.checks)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    rows.push([
      s.partition === undefined ? s.service : `${s.service}_p${s.partition}`,
      String(s.events),
      String(s.lastPosition),
      checks || '-',
      String(s.divergences),
    ]);
  }
  const crossDiv = r.divergences.filter((d) => d.service === 'cross').length;
  rows.push([
    'cross',
    '-',
    '-',
    Object.entries(r.cross)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || '-',
    String(crossDiv),
  ]);
  lines.push('', pad(rows), '');
  const rate = r.ms > 0 ? Math.round((r.events * 1000) / r.ms) : r.events;
  lines.push(
    `${r.events} events in ${r.ms} ms (${rate} events/s); ${r.divergences.length} divergence(s), ${pending.length} pending, ${r.notes.length - pending.length} other note(s)`,
  );
  for (const x of r.reduced ?? []) lines.push(`REDUCED AUDIT: ${x}`);
  return lines.join('\n');
}
