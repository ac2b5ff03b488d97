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
    return {
      ...g,
      close: async () => {
        await g.close();
        ewx.close();
      },
    };
  } catch (e) {
    ewx.close();
    throw e;
  }
}

/** A dashboard port setting (DASHBOARD_PORT, the demo's --dashboard): a port 0..65535 (0: any free one), or `off` (undefined). */
export function dashboardPort(setting: string, name = 'DASHBOARD_PORT'): number | undefined {
  if (setting === 'off') return undefined;
  if (!/^\d{1,5}$/.test(setting) || Number(setting) > 65_535)
    throw new Error(`${name}: expected a port 0..65535 (0 for any free one) or off, got ${JSON.stringify(setting)}`);
  return Number(setting);
}

export interface DashboardBeside {
  /** The setting as given (`8080`, `0`, `off`); see `dashboardPort`. */
  readonly setting: string;
  /** Names the setting in messages (DASHBOARD_PORT, --dashboard). */
  readonly settingName?: string;
  readonly host?: string;
  readonly audit?: AuditSource;
  /** The process's name at the start of its stderr line (`ewx embedded`, `demo`). */
  readonly who: string;
  /** Added to the failure line (e.g. how to pick another port). */
  readonly hint?: string;
}

/**
 * The dashboard started beside the services of this process (the embedded mode, the demo): the page
 * is an extra, so a port in use or a bad setting costs the page, not the services — one line on
 * stderr (`<who>: dashboard not started on port <setting>: <why>`) and undefined.
 */
export async function startDashboardBeside(target: ConnectOptions, o: DashboardBeside): Promise<Gateway | undefined> {
  try {
    const port = dashboardPort(o.setting, o.settingName);
    if (port === undefined) return undefined;
    return await startDashboard(target, port, o.host, o.audit);
  } catch (e) {
    process.stderr.write(`${o.who}: dashboard not started on port ${o.setting}: ${(e as Error).message}${o.hint ? ` (${o.hint})` : ''}\n`);
    return undefined;
  }
}
