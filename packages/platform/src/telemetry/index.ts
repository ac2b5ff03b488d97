export * from './trace.js';
export * from './metrics.js';
export * from './setup.js';
export { traceInterceptor } from './grpc.js';
export * from './service.js';
