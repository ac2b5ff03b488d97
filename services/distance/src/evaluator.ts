#!/usr/bin/env node
/**
 * The evaluator worker process: EVALUATOR_KEY (ed25519 seed hex; its address must be listed in the
 * distance service's EVALUATORS), DISTANCE_ADDRESS (host:port, default 127.0.0.1:50065),
 * EVALUATOR_POLL_MS (default 1000).
 */
import * as grpc from '@grpc/grpc-js';
import { clockNonces, createLogger, keyPairFromSeed, readEnv } from '@ewx/platform';
import { DistanceClient } from '@ewx/proto/distance';
import { evaluatorWorker } from './evaluator/worker.js';

const env = readEnv();
const log = createLogger({ service: 'distance-evaluator' });
const seed = env.optional('EVALUATOR_KEY');
if (seed === undefined || !/^[0-9a-f]{64}$/i.test(seed)) {
  process.stderr.write('ewx evaluator: configuration EVALUATOR_KEY: expected an ed25519 seed, 64 hex characters\n');
  process.exit(1);
}
const key = keyPairFromSeed(seed);
const address = env.str('DISTANCE_ADDRESS', '127.0.0.1:50065');
const pollMs = env.int('EVALUATOR_POLL_MS', 1000, 10, 600_000);
const client = new DistanceClient(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
// Nonces only need to grow per signer: microseconds of the clock, never repeated in the process.
const nonce = clockNonces();
const worker = evaluatorWorker(client, key, log, nonce);
log.info('evaluator started', { evaluator: key.address, distance: address, pollMs });

let stopping = false;
const loop = async (): Promise<void> => {
  while (!stopping) {
    const step = await worker.step().catch((e: Error) => ({ kind: 'retry' as const, why: e.message }));
    if (step.kind === 'retry') log.info('will retry', { why: step.why });
    await new Promise((r) => setTimeout(r, pollMs));
  }
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { stopping = true; client.close(); process.exit(0); });
void loop();
