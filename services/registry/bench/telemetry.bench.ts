/**
 * The cost of telemetry on commands: the registry as its own process on the local Kafka and
 * PostgreSQL, once with OpenTelemetry off (OTEL_SDK_DISABLED=true) and once on (spans, trace
 * metadata on every event, the Prometheus endpoint; no exporter, as without OTEL_* settings),
 * alternating, each run a fresh namespace. Each run signs up `TELEMETRY_BENCH_COMMANDS` registrars
 * (distinct accounts, so commands run concurrently, `TELEMETRY_BENCH_CONCURRENCY` in flight).
 *   npx tsx services/registry/bench/telemetry.bench.ts
 */
import { generateKeyPair, signCommand } from '@ewx/platform';
import { freePort, insecureClient, realInfra, rpc, startServiceProcess, uniqueNamespace } from '@ewx/platform/testing';
import { RegistryClient, SignUpRegistrarRequest } from '@ewx/proto/registry';

const { infra, skip } = await realInfra();
if (!infra) throw new Error(`infrastructure: ${skip}`);
const N = Number(process.env.TELEMETRY_BENCH_COMMANDS ?? 2000);
const C = Number(process.env.TELEMETRY_BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.TELEMETRY_BENCH_ROUNDS ?? 2);

async function run(mode: 'off' | 'on'): Promise<number> {
  const port = await freePort();
  const p = await startServiceProcess('registry', port, {
    DATABASE_URL: infra!.databaseUrl, KAFKA_BROKERS: infra!.brokers.join(','), EWX_NAMESPACE: uniqueNamespace('tbench'),
    ADMIN_ADDRESS: generateKeyPair().address, ...(mode === 'off' ? { OTEL_SDK_DISABLED: 'true' } : { METRICS_PORT: String(await freePort()) }),
  });
  try {
    const client = insecureClient(RegistryClient, `127.0.0.1:${port}`);
    const requests = Array.from({ length: N + 200 }, (_, i) => signCommand(generateKeyPair(), '/ewx.v1.Registry/SignUpRegistrar',
      { auth: undefined, friendlyName: `bench ${i}`, legalLocation: 'DE' }, 1n, (m) => SignUpRegistrarRequest.encode(m).finish()));
    const drive = async (list: typeof requests): Promise<void> => {
      let next = 0;
      await Promise.all(Array.from({ length: C }, async () => { while (next < list.length) await rpc(client, 'signUpRegistrar', list[next++]!); }));
    };
    await drive(requests.slice(0, 200));
    const t0 = performance.now();
    await drive(requests.slice(200));
    return N / ((performance.now() - t0) / 1000);
  } finally {
    await p.stop();
  }
}

const results: Record<'off' | 'on', number[]> = { off: [], on: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of ['off', 'on'] as const) {
    const rate = await run(mode);
    results[mode].push(rate);
    console.log(`telemetry ${mode}: ${rate.toFixed(0)} commands/s`);
  }
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`mean: off ${mean(results.off).toFixed(0)}/s, on ${mean(results.on).toFixed(0)}/s (${((1 - mean(results.on) / mean(results.off)) * 100).toFixed(1)} % fewer with telemetry on); load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
