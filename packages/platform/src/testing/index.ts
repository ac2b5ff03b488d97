export * from './infra.js';
export * from './wait.js';
export * from './grpc.js';
export * from './process.js';
export { eventStoreContract } from './contract.js';
export * from './kafka.js';
export { testPki, type TestPki } from './certs.js';
export * from './otlp.js';
export { tcpProxy } from './proxy.js';
