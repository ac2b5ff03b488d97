/**
 * What domain code (deciders, evolve, pure rules) may import from the platform: errors, field and
 * money helpers, signatures, positions, the period calendar and the event contracts. Nothing here
 * loads a driver (pg, kafkajs, PGlite, gRPC), so a decider runs anywhere — an auditor, a test, the
 * evaluator — without them. Import it as `@ewx/platform/domain`.
 */
export * from './errors.js';
export * from './money.js';
export * from './fields.js';
export * from './auth/keys.js';
export * from './eventstore/types.js';
export * from './blocks.js';
export * from './contracts/periods.js';
export * from './contracts/events.js';
export type { Auth, Decider } from './runtime.js';
export type { ServiceDecider } from './decider.js';
