import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { closeSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { waitFor } from './wait.js';

const HealthCtor = grpc.makeGenericClientConstructor(healthService, 'Health');
interface Health {
  check(req: { service: string }, cb: (e: Error | null, r: { status: string | number }) => void): void;
  close(): void;
}
/** A grpc.health.v1 client; status arrives as a name or a number depending on the loader. */
export const healthClient = (address: string): Health => new HealthCtor(address, grpc.credentials.createInsecure()) as unknown as Health;
export const isServing = (status: string | number): boolean => status === 'SERVING' || status === 1;

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../../../', import.meta.url)));

export interface ServiceProcess {
  readonly name: string;
  readonly address: string;
  readonly child: ChildProcess;
  output(): string;
  /** SIGKILL: no shutdown hooks, the crash the tests are about. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** The status of `service` ('' = the whole server) on `address`, or undefined if it does not answer. */
export function healthStatus(address: string, service = ''): Promise<string | number | undefined> {
  const health = healthClient(address);
  return new Promise<string | number | undefined>((res) => {
    health.check({ service }, (e, r) => res(e ? undefined : r.status));
  }).finally(() => health.close());
}

/** `node <script>` with its output captured (stdout and stderr together). */
function spawnNode(script: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    exited,
    running,
    output: () => out,
    kill: async (): Promise<void> => {
      if (running()) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Waits until health entry `service` of `address` says SERVING; a process that exits first fails at once. */
async function untilServing(what: string, address: string, service: string, p: ReturnType<typeof spawnNode>, ms: number): Promise<void> {
  const health = healthClient(address);
  try {
    await waitFor(
      what,
      () =>
        new Promise<true | undefined>((res, rej) => {
          if (p.child.exitCode !== null) {
            rej(new Error(`${what}: the process exited with ${p.child.exitCode}: ${p.output().slice(-2000)}`));
            return;
          }
          health.check({ service }, (e, r) => res(!e && isServing(r.status) ? true : undefined));
        }),
      ms,
      100,
    );
  } finally {
    health.close();
  }
}

/**
 * Starts `node services/<name>/dist/main.js` without waiting for it (see `startServiceProcess`);
 * `serving()` waits until its health service says SERVING (commands accepted).
 */
export function spawnServiceProcess(name: string, port: number, env: Record<string, string>): ServiceProcess & { serving(ms?: number): Promise<void> } {
  const p = spawnNode(resolve(REPO_ROOT, `services/${name}/dist/main.js`), {
    ...process.env,
    LOG_LEVEL: 'warn',
    ...env,
    GRPC_PORT: String(port),
    GRPC_HOST: '127.0.0.1',
  });
  const address = `127.0.0.1:${port}`;
  const { child, kill } = p;
  return {
    name,
    address,
    child,
    output: p.output,
    kill,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([p.exited, new Promise((r) => setTimeout(r, 5000))]);
      }
      await kill();
    },
    serving: (ms = 60_000) => untilServing(`${name} SERVING on ${address}`, address, '', p, ms),
  };
}

/** Starts `node services/<name>/dist/main.js` and waits until its health service says SERVING (commands accepted). */
export async function startServiceProcess(name: string, port: number, env: Record<string, string>): Promise<ServiceProcess> {
  const p = spawnServiceProcess(name, port, env);
  try {
    await p.serving();
  } catch (e) {
    await p.kill();
    throw e;
  }
  return p;
}

/** Whether nothing listens on 127.0.0.1:`port` right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Where the test processes of this machine reserve the ports they hand out (one empty file per port). */
const PORT_RESERVATIONS = join(tmpdir(), 'ewx-test-ports');
/** A reservation older than this is left over from an earlier run and may be taken again. */
const RESERVATION_MS = 30 * 60_000;

/** Reserves `port` for this process across every test process on the machine; false if another holds it. */
function reserve(port: number): boolean {
  const file = join(PORT_RESERVATIONS, String(port));
  for (let i = 0; i < 2; i++) {
    try {
      closeSync(openSync(file, 'wx'));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(file).mtimeMs < RESERVATION_MS) return false;
        unlinkSync(file);
      } catch {
        return false;
      }
    }
  }
  return false;
}

/**
 * A port nobody listens on right now and no other test process was given, for test processes.
 * Ports come from 20000–31999, below the kernel's ephemeral range (32768–60999 here), so no
 * outgoing connection and no server bound to port 0 takes one between now and the process's bind;
 * each is reserved by an exclusive file in the temp folder, because test files run in parallel
 * processes (`--test-concurrency=2`): two of them had been handed the same port (`listen(0)`, closed,
 * handed out again) and a voting process's health check was answered by another test's server.
 */
export async function freePort(): Promise<number> {
  mkdirSync(PORT_RESERVATIONS, { recursive: true });
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = 20_000 + randomInt(12_000);
    if (reserve(port) && (await canListen(port))) return port;
  }
  throw new Error(`no free test port in 20000–31999 after 500 tries; remove ${PORT_RESERVATIONS} if a crashed run left it full`);
}

export interface EmbeddedProcess {
  /** `127.0.0.1:<GRPC_PORT>`. */
  readonly address: string;
  readonly child: ChildProcess;
  /** Everything the process printed (stdout and stderr). */
  output(): string;
  /** SIGKILL: no shutdown hooks (the crash tests' kill -9). */
  kill(): Promise<void>;
  /** SIGTERM, and waits for the exit: the services stop cleanly (snapshots stored). */
  stop(): Promise<void>;
}

/**
 * Starts `npm start`'s process (`packages/embedded/dist/main.js`: all five services, PGlite in
 * `DATA_DIR`) on a free gRPC port with `env` over this process's environment, and waits until its
 * health service says the registry is SERVING (commands accepted). A new PGlite folder takes 20–50 s
 * to initialise on a loaded 2-core machine, so it waits up to `ms` (180 s) and fails with what the
 * process printed; a process that exits first fails at once. The dashboard is off unless `env` sets
 * DASHBOARD_PORT.
 */
export async function startEmbeddedProcess(env: Record<string, string>, ms = 180_000): Promise<EmbeddedProcess> {
  const port = await freePort();
  const p = spawnNode(resolve(REPO_ROOT, 'packages/embedded/dist/main.js'), {
    ...process.env,
    LOG_LEVEL: 'warn',
    DASHBOARD_PORT: 'off',
    ...env,
    GRPC_PORT: String(port),
  });
  const address = `127.0.0.1:${port}`;
  try {
    await untilServing('embedded SERVING', address, 'ewx.v1.Registry', p, ms);
  } catch (e) {
    await p.kill();
    throw new Error(`${(e as Error).message}; its output: ${p.output().slice(-2000)}`);
  }
  return {
    address,
    child: p.child,
    output: p.output,
    kill: p.kill,
    async stop() {
      if (p.running()) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    },
  };
}
