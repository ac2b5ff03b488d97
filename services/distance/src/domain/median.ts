/**
 * The median of the published values. With an even count the two middle values are a ≤ b and the
 * median is a + floor((b − a) / 2): never above either, and integer. Undefined when empty.
 */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length % 2 === 1) return sorted[mid];
  const lo = sorted[mid - 1]!;
  const hi = sorted[mid]!;
  return lo + Math.floor((hi - lo) / 2);
}
