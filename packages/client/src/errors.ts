import { status, type ServiceError } from '@grpc/grpc-js';

/**
 * A refused or failed call: `code` is the gRPC status (INVALID_ARGUMENT, NOT_FOUND, …), `details`
 * the service's message, which names the field and the rule.
 */
export class EwxCallError extends Error {
  override readonly name = 'EwxCallError';
  constructor(
    readonly method: string,
    readonly code: status,
    readonly details: string,
    /**
     * Set on a command whose reply was lost with its connection: true when the service recorded it
     * (it was applied once; its reply could not be rebuilt), false when that is unknown.
     */
    readonly applied?: boolean,
  ) {
    super(`${method}: ${status[code] ?? code}: ${details}`);
  }
  get codeName(): string {
    return status[this.code] ?? String(this.code);
  }
  /** Survives copies of this module (instanceof does not). */
  static is(e: unknown): e is EwxCallError {
    return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'EwxCallError';
  }
}

export const fromServiceError = (method: string, e: ServiceError): EwxCallError => new EwxCallError(method, e.code, e.details || e.message);
