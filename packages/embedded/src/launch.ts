#!/usr/bin/env node
/**
 * The image's entry point: one image for every component, chosen by the first argument.
 *   embedded (the default) | registry | voting | consensus | rewards | distance | evaluator | dashboard
 *   healthcheck: exit 0 if the process in this container answers grpc.health.v1 SERVING on
 *   127.0.0.1:$GRPC_HEALTH_PORT (or $GRPC_PORT), plaintext; 1 otherwise (Docker's HEALTHCHECK).
 */
import { probeHealth, readEnv } from '@ewx/platform';

const ROLES: Record<string, string> = {
  embedded: './main.js',
  registry: '../../../services/registry/dist/main.js',
  voting: '../../../services/voting/dist/main.js',
  consensus: '../../../services/consensus/dist/main.js',
  rewards: '../../../services/rewards/dist/main.js',
  distance: '../../../services/distance/dist/main.js',
  evaluator: '../../../services/distance/dist/evaluator.js',
  dashboard: '../../dashboard/dist/main.js',
};

async function healthcheck(): Promise<number> {
  const env = readEnv();
  const port = env.optional('GRPC_HEALTH_PORT') !== undefined ? env.int('GRPC_HEALTH_PORT', 0, 1, 65535) : env.int('GRPC_PORT', 50051, 1, 65535);
  const status = await probeHealth(`127.0.0.1:${port}`, '', 3000);
  if (status === 'SERVING') return 0;
  process.stderr.write(`healthcheck: 127.0.0.1:${port} ${status}\n`);
  return 1;
}

const role = process.argv[2] ?? 'embedded';
if (role === 'healthcheck') {
  process.exitCode = await healthcheck();
} else if (ROLES[role] === undefined) {
  process.stderr.write(`usage: launch.js [${[...Object.keys(ROLES), 'healthcheck'].join('|')}] (got ${JSON.stringify(role)})\n`);
  process.exitCode = 2;
} else {
  await import(new URL(ROLES[role]!, import.meta.url).href);
}
