export * from './handlers.js';
export * from './ladder.js';
export * from './metrics.js';
export * from './network.js';
export * from './runtime.js';
export * from './http.js';
