import * as grpc from '@grpc/grpc-js';
import { traceCarrier } from './trace.js';

/** A gRPC client interceptor that sends the active trace (W3C `traceparent`) with each call. */
export const traceInterceptor: grpc.Interceptor = (options, next) =>
  new grpc.InterceptingCall(next(options), {
    start(metadata, listener, nextStart) {
      const c = traceCarrier();
      if (c) for (const [k, v] of Object.entries(c)) metadata.set(k, v);
      nextStart(metadata, listener);
    },
  });
