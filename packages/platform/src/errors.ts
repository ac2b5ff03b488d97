/**
 * One error base type with a code. The codes are gRPC's status names so the API layer maps them
 * without a table per service; the message names the field and the rule.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'RESOURCE_EXHAUSTED'
  | 'ABORTED'
  | 'UNAVAILABLE';

export class DomainError extends Error {
  /** Survives module copies, unlike instanceof across two installs of this package. */
  readonly isDomainError = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const isDomainError = (e: unknown): e is DomainError => typeof e === 'object' && e !== null && (e as { isDomainError?: unknown }).isDomainError === true;

/**
 * A value for an error message: JSON-quoted, and past `max` characters cut with an ellipsis and its
 * full length. Messages travel in the gRPC trailers, where a quoted megabyte never arrives.
 */
export function quote(value: unknown, max = 64): string {
  const s = typeof value === 'string' ? value : String(value);
  return s.length <= max ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, max))}… (${s.length} characters)`;
}

/** Longest status message sent, in UTF-8 bytes: the last line of defence after `quote`. */
export const MAX_MESSAGE_BYTES = 1024;

/** Cuts a message to at most `maxBytes` UTF-8 bytes, saying how long it was. */
export function capMessage(message: string, maxBytes = MAX_MESSAGE_BYTES): string {
  if (message.length <= maxBytes / 3 || Buffer.byteLength(message) <= maxBytes) return message;
  const tail = `… (message cut, ${message.length} characters)`;
  let head = message.slice(0, maxBytes - tail.length);
  while (Buffer.byteLength(head) + Buffer.byteLength(tail) > maxBytes) head = head.slice(0, Math.floor(head.length * 0.9));
  // Never end on half a surrogate pair.
  if (/[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1);
  return head + tail;
}

export const invalid = (field: string, rule: string): DomainError => new DomainError('INVALID_ARGUMENT', `${field}: ${rule}`);
export const precondition = (message: string): DomainError => new DomainError('FAILED_PRECONDITION', message);
export const notFound = (what: string): DomainError => new DomainError('NOT_FOUND', `${what} not found`);
export const alreadyExists = (what: string): DomainError => new DomainError('ALREADY_EXISTS', `${what} already exists`);
export const denied = (message: string): DomainError => new DomainError('PERMISSION_DENIED', message);
/** Not now, retry soon (a service that is starting); the message says what it waits for. */
export const unavailable = (message: string): DomainError => new DomainError('UNAVAILABLE', message);

/** Thrown by an event store when the stream is not at the expected version. */
export class WrongExpectedVersionError extends Error {
  readonly isWrongExpectedVersion = true;
  constructor(
    readonly streamId: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`stream ${streamId}: expected version ${expected}, actual ${actual}`);
    this.name = 'WrongExpectedVersionError';
  }
}
export const isWrongExpectedVersion = (e: unknown): e is WrongExpectedVersionError =>
  typeof e === 'object' && e !== null && (e as { isWrongExpectedVersion?: unknown }).isWrongExpectedVersion === true;

/** Configuration that cannot start the process: names the variable and what it expects. */
export { ConfigError } from '@ewx/client/config';
