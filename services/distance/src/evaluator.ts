#!/usr/bin/env node
/**
 * The evaluator worker process: EVALUATOR_KEY (ed25519 seed hex; its address must be listed in the
 * distance service's EVALUATORS), DISTANCE_ADDRESS (host:port, default 127.0.0.1:50065),
 * EVALUATOR_POLL_MS (default 1000), GRPC_CLIENT_TLS* (TLS to the distance service),
 * GRPC_HEALTH_PORT (serve grpc.health.v1 in plaintext for probes; GRPC_HOST, default 127.0.0.1):
 * 'liveness' is SERVING while the process runs, '' while the last poll reached the distance service.
 */
import * as grpc from '@grpc/grpc-js';
import { channelCredentials, clientTlsFrom, clockNonces, ConfigError, createLogger, keyPairFromSeed, processHealth, readEnv, startHealthServer } from '@ewx/platform';
import { DistanceClient } from '@ewx/proto/distance';
import { evaluatorWorker } from './evaluator/worker.js';

const log = createLogger({ service: 'distance-evaluator' });

/** Every variable parsed before anything connects; a bad one exits 1 naming it. */
function config() {
  const env = readEnv();
  const seed = env.optional('EVALUATOR_KEY');
  if (seed === undefined || !/^[0-9a-f]{64}$/i.test(seed)) throw new ConfigError('EVALUATOR_KEY', 'an ed25519 seed, 64 hex characters', seed === undefined ? undefined : '(hidden)');
  const address = env.str('DISTANCE_ADDRESS', '127.0.0.1:50065');
  if (!/^[^:\s]+:\d{1,5}$/.test(address)) throw new ConfigError('DISTANCE_ADDRESS', 'host:port', address);
  return {
    key: keyPairFromSeed(seed),
    address,
    pollMs: env.int('EVALUATOR_POLL_MS', 1000, 10, 600_000),
    credentials: channelCredentials(clientTlsFrom(env)),
    healthPort: env.optional('GRPC_HEALTH_PORT') === undefined ? undefined : env.int('GRPC_HEALTH_PORT', 0, 0, 65535),
    host: env.str('GRPC_HOST', '127.0.0.1'),
  };
}

let c: ReturnType<typeof config>;
try {
  c = config();
} catch (e) {
  process.stderr.write(`ewx evaluator: ${(e as Error).message}\n`);
  process.exit(1);
}
const client = new DistanceClient(c.address, c.credentials, { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
// Nonces only need to grow per signer: microseconds of the clock, never repeated in the process.
const nonce = clockNonces();
const worker = evaluatorWorker(client, c.key, log, nonce);
const health = processHealth();
const probe = c.healthPort === undefined ? undefined : await startHealthServer(c.host, c.healthPort, health);
log.info('evaluator started', { evaluator: c.key.address, distance: c.address, pollMs: c.pollMs, health: probe ? `${c.host}:${probe.port}` : 'off' });

let stopping = false;
const loop = async (): Promise<void> => {
  while (!stopping) {
    // Not ready only while the distance service cannot be reached; an answer, even a refusal, is contact.
    const step = await worker.step().catch((e: grpc.ServiceError) => ({
      kind: e.code === undefined || e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED ? 'unreachable' as const : 'retry' as const,
      why: e.message,
    }));
    health.setStatus('', step.kind === 'unreachable' ? 'NOT_SERVING' : 'SERVING');
    if (step.kind === 'retry' || step.kind === 'unreachable') log.info('will retry', { why: step.why });
    await new Promise((r) => setTimeout(r, c.pollMs));
  }
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => { stopping = true; client.close(); void (probe?.stop() ?? Promise.resolve()).finally(() => process.exit(0)); });
}
void loop();
