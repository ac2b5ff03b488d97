#!/usr/bin/env node
/**
 * The dashboard as its own process (deploy/k8s/base/dashboard.yaml): DASHBOARD_PORT (8080),
 * DASHBOARD_HOST (127.0.0.1), and either EWX_ADDRESS (the embedded mode's one address) or
 * REGISTRY_ADDRESS, VOTING_ADDRESS, CONSENSUS_ADDRESS, REWARDS_ADDRESS, DISTANCE_ADDRESS; for the
 * audit view AUDIT_DATABASE_URL or AUDIT_DATA_DIR (see audit.ts).
 */
import { SERVICE_NAMES, type ConnectOptions, type ServiceName } from '@ewx/client';
import { auditSourceFromEnv } from './audit.js';
import { startDashboard } from './start.js';

function target(env: NodeJS.ProcessEnv): ConnectOptions {
  const each = SERVICE_NAMES.map((s) => [s, env[`${s.toUpperCase()}_ADDRESS`]] as const);
  if (each.every(([, a]) => a)) return { addresses: Object.fromEntries(each) as Record<ServiceName, string> };
  if (env.EWX_ADDRESS) return { address: env.EWX_ADDRESS };
  const missing = each.filter(([, a]) => !a).map(([s]) => `${s.toUpperCase()}_ADDRESS`);
  throw new Error(`set EWX_ADDRESS, or all five service addresses (missing ${missing.join(', ')})`);
}

const USAGE = `usage: node packages/dashboard/dist/main.js
The read-only EWX dashboard: serves the page and its JSON views over the services' gRPC reads.
Environment:
  EWX_ADDRESS=host:port        the embedded mode's one address, or all five of
  REGISTRY_ADDRESS, VOTING_ADDRESS, CONSENSUS_ADDRESS, REWARDS_ADDRESS, DISTANCE_ADDRESS
  DASHBOARD_PORT=8080          DASHBOARD_HOST=127.0.0.1 (0.0.0.0 to reach it from elsewhere)
  AUDIT_DATABASE_URL=postgres://…  or  AUDIT_DATA_DIR=<stopped embedded folder>: the audit view
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}

try {
  const port = Number(process.env.DASHBOARD_PORT ?? '8080');
  if (!/^\d{1,5}$/.test(process.env.DASHBOARD_PORT ?? '8080') || port > 65535)
    throw new Error(`DASHBOARD_PORT: expected a port 0..65535, got ${process.env.DASHBOARD_PORT}`);
  const g = await startDashboard(target(process.env), port, process.env.DASHBOARD_HOST ?? '127.0.0.1', auditSourceFromEnv(process.env));
  process.stdout.write(`ewx dashboard: ${g.url}\n`);
  const stop = (): void => {
    void g.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (e) {
  process.stderr.write(`ewx dashboard: ${(e as Error).message}\n`);
  process.exit(1);
}
