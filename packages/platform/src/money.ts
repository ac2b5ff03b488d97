import { invalid, quote } from './errors.js';

/** 1 token = 10^18 base units. Money is bigint in code and a decimal string on the wire. */
export const TOKEN = 10n ** 18n;
export const PERBILL = 1_000_000_000n;

/** Parses a non-negative decimal amount in base units; names the field when it is not one. */
export function parseAmount(field: string, s: string | undefined, { positive = false } = {}): bigint {
  if (s === undefined || !/^\d{1,40}$/.test(s)) throw invalid(field, `expected a decimal integer amount in base units, got ${quote(s ?? '')}`);
  const v = BigInt(s);
  if (positive && v === 0n) throw invalid(field, 'must be greater than 0');
  return v;
}

/** x × 100 ≥ percent × of — a percent threshold in integers, no division. */
export const meetsPercent = (x: bigint | number, of: bigint | number, percent: number): boolean => BigInt(x) * 100n >= BigInt(percent) * BigInt(of);

/** Whole tokens, rounded down, for display to operators. */
export const wholeTokens = (baseUnits: bigint): bigint => baseUnits / TOKEN;

/** A percent field 0..100, validated. */
export function percentField(field: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 100) throw invalid(field, `expected a whole percent from 0 to 100, got ${v}`);
  return v;
}
