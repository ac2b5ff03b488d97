import { runEmbedded } from '@ewx/platform';
import { embeddedKeys } from './keys.js';
import { ALL_MODULES } from './index.js';

embeddedKeys(process.env);
runEmbedded(ALL_MODULES).then(async (system) => {
  // The read-only dashboard (packages/dashboard) on DASHBOARD_PORT (8080; "off" for none). Loaded at
  // run time, not referenced at build time: the dashboard's tests start this process. A port in use
  // costs the page, not the services.
  const setting = process.env.DASHBOARD_PORT ?? '8080';
  if (setting === 'off') return;
  try {
    // By path, as launch.ts loads the components: the same in the repository and in the image's /app.
    const dashboard = new URL('../../dashboard/dist/index.js', import.meta.url).href;
    const { startDashboard } = await import(dashboard) as { startDashboard(t: { address: string }, port: number, host?: string): Promise<{ url: string }> };
    const g = await startDashboard({ address: `127.0.0.1:${system.server.port}` }, Number(setting), process.env.DASHBOARD_HOST ?? '127.0.0.1');
    process.stdout.write(`ewx embedded: dashboard at ${g.url}\n`);
  } catch (e) {
    process.stderr.write(`ewx embedded: dashboard not started on port ${setting}: ${(e as Error).message}\n`);
  }
}).catch((e: Error) => {
  process.stderr.write(`ewx embedded: ${e.message}\n`);
  process.exit(1);
});
