import { connect, type ConnectOptions } from '@ewx/client';
import type { AuditSource } from './audit.js';
import { startGateway, type Gateway } from './gateway.js';

/**
 * The dashboard beside a running network: connects read-only (no signer: the page cannot sign) and
 * serves the gateway on `port`. The embedded mode calls it on DASHBOARD_PORT.
 */
export async function startDashboard(target: ConnectOptions, port: number, host = '127.0.0.1', audit?: AuditSource): Promise<Gateway> {
  const ewx = connect({ ...target, signer: undefined, deadlineMs: 10_000 });
  try {
    const g = await startGateway({ ewx, audit }, port, host);
    return { ...g, close: async () => { await g.close(); ewx.close(); } };
  } catch (e) {
    ewx.close();
    throw e;
  }
}
