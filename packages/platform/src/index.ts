export * from './errors.js';
export * from './log.js';
export * from './retry.js';
export { keptReads } from './kept.js';
export { createMark, emptyProjection, followFold, memoryFold, perStore, sqlFold, FOLD_BATCH, type LogFold, type SqlFoldSpec } from './projection.js';
export * from './config.js';
export * from './money.js';
export * from './envelope.js';
export * from './eventstore/types.js';
export * from './eventstore/subscription.js';
export {
  sqlEventStore,
  sqlProjectionsOf,
  migrate,
  schemaFor,
  type SqlClient,
  type SqlExecutor,
  type SqlProjections,
  type SqlStoreOptions,
} from './eventstore/sql.js';
export { partitionLeases, type PartitionLeases, type LeaseRow } from './leases.js';
export { postgresEventStore } from './eventstore/postgres.js';
export { openPglite, pgliteEventStore, pgliteTemplatePath } from './eventstore/pglite.js';
export { kurrentEventStore, kurrentEventStoreOn, type KurrentClient } from './eventstore/kurrentdb.js';
export * from './bus/types.js';
export { inProcessBus } from './bus/inprocess.js';
export { logTailBus, type LogTailBus } from './bus/logtail.js';
export { kafkaBus, kafkaConfig } from './bus/kafka.js';
export { kafkaSecurityFrom, type KafkaSecurity, type SaslMechanism } from './bus/kafka-security.js';
export { startRelay } from './relay.js';
export { inboxGroupOf, startInbox } from './inbox.js';
export * from './runtime.js';
export * from './heights.js';
export * from './snapshot.js';
export * from './auth/keys.js';
export * from './auth/command.js';
export * from './grpc/server.js';
export * from './grpc/tls.js';
export { probeHealth } from './grpc/probe.js';
export { grpcServerOptionsFrom } from './grpc/options.js';
export { pemFileFrom } from './pem.js';
export * from './host.js';
export * from './blocks.js';
export * from './grpc/status.js';
export * from './grpc/watch.js';
export * from './contracts/periods.js';
export * from './contracts/events.js';
export * from './grpc/paging.js';
export * from './fields.js';
export * from './reactions.js';
export * from './telemetry/index.js';
export * from './health.js';
