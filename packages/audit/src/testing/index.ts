export * from './scenario.js';
export * from './recorded.js';
