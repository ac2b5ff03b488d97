import { setFlagsFromString } from 'node:v8';
import { runEmbedded } from '@ewx/platform';
import { embeddedKeys } from './keys.js';
import { ALL_MODULES } from './index.js';

/** What this process uses of @ewx/dashboard (loaded by path at run time, see below). */
interface DashboardKit {
  startDashboardBeside(target: { address: string }, o: { setting: string; host?: string; who: string; audit?: unknown }): Promise<{ url: string } | undefined>;
  auditSourceOver(logs: ReadonlyMap<string, unknown>, description: string): unknown;
}

// PGlite's WebAssembly (PostgreSQL, 9 MB) runs on V8's baseline compiler only: tiering hot functions
// up to TurboFan costs ~75 MB of resident memory and background CPU at every start (measured: idle
// RSS 250 → 175 MB). EWX_WASM_TIER_UP=on restores V8's default (faster long reads: see docs/SCALING.md).
if (process.env.EWX_WASM_TIER_UP !== 'on') setFlagsFromString('--liftoff-only');
embeddedKeys(process.env);
runEmbedded(ALL_MODULES)
  .then(async (system) => {
    // The read-only dashboard (packages/dashboard) on DASHBOARD_PORT (8080; "off" for none). Loaded at
    // run time, not referenced at build time: the dashboard's tests start this process. A port in use
    // costs the page, not the services. Its audit view reads the running services' logs (read-only).
    const setting = process.env.DASHBOARD_PORT ?? '8080';
    if (setting === 'off') return;
    let kit: DashboardKit;
    try {
      // By path, as launch.ts loads the components: the same in the repository and in the image's /app.
      kit = (await import(new URL('../../dashboard/dist/index.js', import.meta.url).href)) as DashboardKit;
    } catch (e) {
      process.stderr.write(`ewx embedded: dashboard not started on port ${setting}: ${(e as Error).message}\n`);
      return;
    }
    const audit = kit.auditSourceOver(system.logs, `the running embedded system (${system.dataDir ?? 'memory'})`);
    const g = await kit.startDashboardBeside(
      { address: `127.0.0.1:${system.server.port}` },
      { setting, host: process.env.DASHBOARD_HOST ?? '127.0.0.1', who: 'ewx embedded', audit },
    );
    if (g) process.stdout.write(`ewx embedded: dashboard at ${g.url}\n`);
  })
  .catch((e: Error) => {
    process.stderr.write(`ewx embedded: ${e.message}\n`);
    process.exit(1);
  });
