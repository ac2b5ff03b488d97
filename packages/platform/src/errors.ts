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
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'DomainError';
  }
}

export const isDomainError = (e: unknown): e is DomainError =>
  typeof e === 'object' && e !== null && (e as { isDomainError?: unknown }).isDomainError === true;

export const invalid = (field: string, rule: string): DomainError =>
  new DomainError('INVALID_ARGUMENT', `${field}: ${rule}`);
export const precondition = (message: string): DomainError => new DomainError('FAILED_PRECONDITION', message);
export const notFound = (what: string): DomainError => new DomainError('NOT_FOUND', `${what} not found`);
export const alreadyExists = (what: string): DomainError => new DomainError('ALREADY_EXISTS', `${what} already exists`);
export const denied = (message: string): DomainError => new DomainError('PERMISSION_DENIED', message);
/** Not now, retry soon (a service that is starting); the message says what it waits for. */
export const unavailable = (message: string): DomainError => new DomainError('UNAVAILABLE', message);

/** Thrown by an event store when the stream is not at the expected version. */
export class WrongExpectedVersionError extends Error {
  readonly isWrongExpectedVersion = true;
  constructor(readonly streamId: string, readonly expected: number, readonly actual: number) {
    super(`stream ${streamId}: expected version ${expected}, actual ${actual}`);
    this.name = 'WrongExpectedVersionError';
  }
}
export const isWrongExpectedVersion = (e: unknown): e is WrongExpectedVersionError =>
  typeof e === 'object' && e !== null && (e as { isWrongExpectedVersion?: unknown }).isWrongExpectedVersion === true;

/** Configuration that cannot start the process: names the variable and what it expects. */
export class ConfigError extends Error {
  constructor(readonly variable: string, expected: string, got: string | undefined) {
    super(`configuration ${variable}: expected ${expected}, got ${got === undefined ? '(unset)' : JSON.stringify(got)}`);
    this.name = 'ConfigError';
  }
}
