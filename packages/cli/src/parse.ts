/** Bad input found before anything is sent: exit code 2, one line, nothing changed. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure with its own exit code (e.g. 7: the audit found divergences), one line on stderr. */
export class ExitError extends Error {
  override readonly name = 'ExitError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const TOKEN = 10n ** 18n;

/**
 * Amounts on the command line are in tokens (1 token = 10^18 base units), with up to 18 decimals:
 * `10`, `0.5`. A base-unit amount is written with the suffix `base`: `42base`.
 */
export function parseAmount(field: string, s: string, { positive = true } = {}): bigint {
  const base = /^(\d{1,40})base$/.exec(s);
  let v: bigint;
  if (base) v = BigInt(base[1]!);
  else {
    const m = /^(\d{1,22})(?:\.(\d{1,18}))?$/.exec(s);
    if (!m)
      throw new UsageError(
        `${field}: expected tokens as a decimal number with at most 18 decimals (e.g. 10 or 0.5) or base units as <integer>base, got ${JSON.stringify(s)}`,
      );
    v = BigInt(m[1]!) * TOKEN + BigInt((m[2] ?? '').padEnd(18, '0'));
  }
  if (positive && v === 0n) throw new UsageError(`${field}: must be greater than 0, got ${JSON.stringify(s)}`);
  return v;
}

/** Base units as tokens, without trailing zeros: 1500000000000000000 → "1.5". */
export function formatTokens(base: bigint | string): string {
  const v = BigInt(base);
  const whole = v / TOKEN;
  const frac = (v % TOKEN).toString().padStart(18, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole.toString();
}

export function parseInteger(field: string, s: string, min: number, max: number): number {
  if (!/^\d{1,16}$/.test(s) || Number(s) < min || Number(s) > max)
    throw new UsageError(`${field}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(s)}`);
  return Number(s);
}

export function parseHex(field: string, s: string, maxBytes: number): Buffer {
  const h = s.startsWith('0x') ? s.slice(2) : s;
  if (!/^([0-9a-fA-F]{2})+$/.test(h) || h.length / 2 > maxBytes)
    throw new UsageError(`${field}: expected 1 to ${maxBytes} bytes as hex (e.g. c0ffee), got ${JSON.stringify(s)}`);
  return Buffer.from(h, 'hex');
}

export function parseChoice<T extends string>(field: string, s: string, choices: readonly T[]): T {
  const u = s.toUpperCase() as T;
  if (!choices.includes(u)) throw new UsageError(`${field}: expected one of ${choices.join(', ')}, got ${JSON.stringify(s)}`);
  return u;
}
