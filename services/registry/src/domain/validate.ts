import { invalid, nameField, noControlChars, parseAmount, percentField, shown } from '@ewx/platform/domain';

/** Field validation: every refusal is INVALID_ARGUMENT naming the field and the bound. */

export { textField } from '@ewx/platform/domain';

/** A group's or solution's namespace: 3..64 characters of [a-z0-9._-], starting with a letter or digit. */
export const namespaceField = nameField;

export function intField(field: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw invalid(field, `expected a whole number from ${min} to ${max}, got ${v}`);
  return v;
}

export const amountField = (field: string, v: string): bigint => parseAmount(field, v);
export const positiveAmount = (field: string, v: string): bigint => parseAmount(field, v, { positive: true });
export const percent = (field: string, v: number): number => percentField(field, v);

/** Highest block height a command may name (heights are JSON numbers on the bus). */
export const MAX_HEIGHT = Number.MAX_SAFE_INTEGER;

/** Bounds of this registry (documented in services/registry/README.md). */
export const BOUNDS = {
  maxOperators: 10_000,
  withdrawalDelay: 1_000,
  allowListEntries: 10_000,
  infoChars: 1_024,
  nameChars: 128,
  logicRefChars: 256,
  holdIdChars: 128,
  purposeChars: 128,
  registrarNameChars: 64,
  locationChars: 64,
  listChange: 1_000,
} as const;

export function holdIdField(v: string): string {
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(v)) throw invalid('hold_id', `expected 1 to ${BOUNDS.holdIdChars} characters of [A-Za-z0-9._:-], got ${shown(v)}`);
  return v;
}

/** A content id: 1..256 characters, no spaces and, like every text field, no control characters. */
export function logicRefField(v: string): string {
  noControlChars('config.logic_ref', v);
  if (!/^\S{1,256}$/u.test(v))
    throw invalid('config.logic_ref', `expected a content id of 1 to ${BOUNDS.logicRefChars} characters without spaces, got ${shown(v)}`);
  return v;
}
