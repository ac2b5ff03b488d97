import type * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { isDomainError } from '../errors.js';
import { count, instruments } from './metrics.js';
import { contextFrom, inSpan, SpanKind, tracingEnabled } from './trace.js';
import { context } from '@opentelemetry/api';

const codeName = (e: unknown): string => (isDomainError(e) ? e.code : Status[Status.UNAVAILABLE]!);

/**
 * The server span of one unary call (continuing the caller's `traceparent` from the call's
 * metadata) and, for a signed command (a request with `auth`), the accepted/refused count by code.
 */
export function rpcSpan<T>(method: string, call: grpc.ServerUnaryCall<unknown, unknown>, fn: () => Promise<T>): Promise<T> {
  const command = (call.request as { auth?: unknown } | null)?.auth != null;
  const name = method.replace(/^\//, '');
  const done = (code: string): void => {
    if (command) count(instruments().commands, 1, { method: name, code });
  };
  const run = (): Promise<T> =>
    fn().then(
      (r) => {
        done('OK');
        return r;
      },
      (e) => {
        done(codeName(e));
        throw e;
      },
    );
  if (!tracingEnabled()) return run();
  const tp = call.metadata.get('traceparent')[0];
  const ts = call.metadata.get('tracestate')[0];
  const parent = contextFrom(typeof tp === 'string' ? { traceparent: tp, ...(typeof ts === 'string' ? { tracestate: ts } : {}) } : undefined, context.active());
  const [service, m] = name.split('/');
  return inSpan(
    name,
    {
      kind: SpanKind.SERVER,
      parent,
      attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': m, 'ewx.command': command },
      expected: isDomainError,
    },
    async (span) => {
      try {
        const r = await run();
        span.setAttribute('rpc.grpc.status_code', Status.OK);
        return r;
      } catch (e) {
        span.setAttribute('rpc.grpc.status_code', isDomainError(e) ? (Status as unknown as Record<string, number>)[e.code]! : Status.UNAVAILABLE);
        span.setAttribute('ewx.refused', codeName(e));
        throw e;
      }
    },
  );
}
