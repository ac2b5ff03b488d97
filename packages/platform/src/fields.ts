import { invalid } from './errors.js';
import { isAddress, ss58Problem } from './auth/keys.js';

/**
 * Request field rules shared by every service (the proto comments' bounds). Each refusal is
 * INVALID_ARGUMENT naming the field and the rule; echoed values are cut short.
 */

/** A value as shown in a refusal: JSON-quoted, at most ~80 characters. */
export const shown = (v: string): string => (v.length > 80 ? `${JSON.stringify(v.slice(0, 80))}… (${v.length} characters)` : JSON.stringify(v));

/** A uint64 from the wire as a number; beyond 2^53 it cannot be a height and is refused. */
export function heightOf(field: string, v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(field, `expected at most ${Number.MAX_SAFE_INTEGER}, got ${v}`);
  return Number(v);
}

/** Unicode control characters (C0, DEL, C1): refused in every text field. */
const CONTROL = /\p{Cc}/u;

export function noControlChars(field: string, v: string): string {
  if (CONTROL.test(v)) throw invalid(field, 'must not contain control characters');
  return v;
}

/** Free text of `min`..`max` characters (code points), without control characters. */
export function textField(field: string, v: string, min: number, max: number): string {
  const n = [...v].length;
  if (n < min || n > max) throw invalid(field, `expected ${min} to ${max} characters, got ${n}`);
  return noControlChars(field, v);
}

const NAMESPACE_RE = /^[a-z0-9][a-z0-9._-]{2,63}$/;
const NAMESPACE_RULE = 'expected 3 to 64 characters of [a-z0-9._-] starting with a letter or digit';

export const isName = (v: string): boolean => NAMESPACE_RE.test(v);

/** A solution group's or solution's namespace (also when it names one in a request). */
export function nameField(field: string, v: string): string {
  if (v === '') throw invalid(field, `required: ${NAMESPACE_RULE}`);
  if (!NAMESPACE_RE.test(v)) throw invalid(field, `${NAMESPACE_RULE}, got ${shown(v)}`);
  return v;
}

/** A namespace filter: empty means "all". */
export const optionalNameField = (field: string, v: string): string => (v === '' ? v : nameField(field, v));

export function addressField(field: string, v: string): string {
  if (v === '') throw invalid(field, 'required: an address ed25519:<64 lowercase hex> or an SS58 sr25519 address (prefix 42)');
  if (!isAddress(v))
    throw invalid(
      field,
      `expected an address ed25519:<64 lowercase hex> or an SS58 sr25519 address (prefix 42), got ${shown(v)}${v.startsWith('ed25519:') ? '' : ` (${ss58Problem(v)})`}`,
    );
  return v;
}

/** An address filter: empty means "all". */
export const optionalAddressField = (field: string, v: string): string => (v === '' ? v : addressField(field, v));

/** One of a few fixed words (proto string enums such as REGISTRAR | WORKER). */
export function oneOfField<T extends string>(field: string, v: string, values: readonly T[]): T {
  if (!values.includes(v as T)) throw invalid(field, `expected one of ${values.join(', ')}, got ${shown(v)}`);
  return v as T;
}

/** A proto enum value: one of the numbers the contract defines. */
export function enumField(field: string, v: number, values: readonly number[]): number {
  if (!values.includes(v)) throw invalid(field, `expected one of ${values.join(', ')}, got ${v}`);
  return v;
}

/**
 * A request field renamed under a new number, the old one deprecated: the new one when set (it has
 * presence), else the old one (`oldUnset` is the old field's "not sent"); both sent with different
 * values is refused, naming both fields.
 */
export function renamedField<T>(field: string, value: T | undefined, oldField: string, old: T, oldUnset: T): T {
  if (value === undefined) return old;
  // (undefined: a request object built in process, never encoded.)
  if (old !== oldUnset && old !== undefined && old !== value)
    throw invalid(field, `${field} (${String(value)}) and the deprecated ${oldField} (${String(old)}) differ: send ${field} only`);
  return value;
}
