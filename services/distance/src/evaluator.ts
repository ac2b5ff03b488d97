#!/usr/bin/env node
/**
 * The evaluator worker process: EVALUATOR_KEY (ed25519 seed hex; its address must be listed in the
 * distance service's EVALUATORS), DISTANCE_ADDRESS (host:port, default 127.0.0.1:50065),
 * EVALUATOR_POLL_MS (default 1000), GRPC_CLIENT_TLS* (TLS to the distance service),
 * GRPC_HEALTH_PORT (serve grpc.health.v1 in plaintext for probes; GRPC_HOST, default 127.0.0.1):
 * 'liveness' is SERVING while the process runs, '' while the last poll reached the distance service.
 *
 * A client of the network like any other: it depends on the client kit (@ewx/client: keys, signing,
 * nonces, by subpath: not the five services' clients), the generated distance contract and the
 * oracle, not on the server platform, so it loads no database or Kafka driver (figures:
 * services/distance/bench/evaluator-start.bench.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { clockNonces } from '@ewx/client/nonces';
import { DistanceClient } from '@ewx/proto/distance';
import { HealthImplementation } from 'grpc-health-check';
import { evaluatorConfig, evaluatorLogger, type EvaluatorConfig } from './evaluator/config.js';
import { evaluatorWorker } from './evaluator/worker.js';

const log = evaluatorLogger({ service: 'distance-evaluator' });

let c: EvaluatorConfig;
try {
  c = evaluatorConfig();
} catch (e) {
  process.stderr.write(`ewx evaluator: ${(e as Error).message}\n`);
  process.exit(1);
}
const client = new DistanceClient(c.address, c.credentials, { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
// Nonces only need to grow per signer: microseconds of the clock, never repeated in the process.
const nonce = clockNonces();
const worker = evaluatorWorker(client, c.key, log, nonce);
// '' (readiness) NOT_SERVING until a poll reaches the distance service; 'liveness' while the process runs.
const health = new HealthImplementation({ '': 'NOT_SERVING', liveness: 'SERVING' });

async function startHealthServer(host: string, port: number): Promise<{ port: number; stop(): Promise<void> }> {
  const server = new grpc.Server();
  health.addToServer(server);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port: bound,
    stop: () =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 3000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      }),
  };
}
const probe = c.healthPort === undefined ? undefined : await startHealthServer(c.host, c.healthPort);
log.info('evaluator started', { evaluator: c.key.address, distance: c.address, pollMs: c.pollMs, health: probe ? `${c.host}:${probe.port}` : 'off' });

let stopping = false;
const loop = async (): Promise<void> => {
  while (!stopping) {
    // Not ready only while the distance service cannot be reached; an answer, even a refusal, is contact.
    const step = await worker.step().catch((e: grpc.ServiceError) => ({
      kind:
        e.code === undefined || e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED ? ('unreachable' as const) : ('retry' as const),
      why: e.message,
    }));
    health.setStatus('', step.kind === 'unreachable' ? 'NOT_SERVING' : 'SERVING');
    if (step.kind === 'retry' || step.kind === 'unreachable') log.info('will retry', { why: step.why });
    await new Promise((r) => setTimeout(r, c.pollMs));
  }
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    stopping = true;
    client.close();
    void (probe?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
  });
}
void loop();
