import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EwxCallError, type Ewx } from '@ewx/client';
import { status as grpcStatus } from '@grpc/grpc-js';
import { auditor, NO_AUDIT, type AuditSource } from './audit.js';
import { liveFeed } from './live.js';
import { distance, group, network, operator, round, statuses, voteProof } from './reads.js';

/** Where `npm run build:web` (esbuild) writes the page: dist/web beside this file's dist. */
export const WEB_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

export interface GatewayOptions {
  readonly ewx: Ewx;
  /** The built page (default WEB_ROOT). */
  readonly webRoot?: string;
  /** How often the gateway polls GetStatus while a service's Watch stream is down (default 500 ms). */
  readonly pollMs?: number;
  /** Where the audit view reads the logs (see audit.ts); without it the view says so. */
  readonly audit?: AuditSource;
}

export interface Gateway {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

type Route = (ewx: Ewx, m: RegExpMatchArray, q: URLSearchParams) => Promise<unknown>;
const ROUTES: [RegExp, Route][] = [
  [/^\/api\/network$/, (ewx) => network(ewx)],
  [/^\/api\/status$/, (ewx) => statuses(ewx)],
  [/^\/api\/groups\/([^/]+)$/, (ewx, m) => group(ewx, m[1]!)],
  [/^\/api\/operators\/([^/]+)$/, (ewx, m) => operator(ewx, m[1]!)],
  [/^\/api\/rounds\/([^/]+)\/([^/]+)$/, (ewx, m) => round(ewx, m[1]!, m[2]!)],
  [/^\/api\/rounds\/([^/]+)\/([^/]+)\/proof\/([^/]+)$/, (ewx, m) => voteProof(ewx, m[1]!, m[2]!, m[3]!)],
  [/^\/api\/distance\/(\d{1,10})$/, (ewx, m) => distance(ewx, Number(m[1]))],
];

/** gRPC status -> HTTP status for the JSON error body. */
function httpStatus(e: unknown): number {
  if (!EwxCallError.is(e)) return 500;
  switch (e.code) {
    case grpcStatus.NOT_FOUND:
      return 404;
    case grpcStatus.INVALID_ARGUMENT:
      return 400;
    case grpcStatus.FAILED_PRECONDITION:
      return 409;
    case grpcStatus.UNAVAILABLE:
    case grpcStatus.DEADLINE_EXCEEDED:
      return 503;
    default:
      return 502;
  }
}

/** The built page's files, read once: only these names are served (no path from the request reaches the disk). */
function staticFiles(root: string): Map<string, { type: string; body: Buffer }> {
  if (!existsSync(join(root, 'index.html'))) throw new Error(`dashboard: no built page in ${root} (run \`npm run build\` at the repository root)`);
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of ['index.html', 'main.js', 'main.css']) {
    const p = join(root, name);
    if (existsSync(p)) files.set('/' + name, { type: TYPES[name.slice(name.lastIndexOf('.'))]!, body: readFileSync(p) });
  }
  files.set('/', files.get('/index.html')!);
  return files;
}

/**
 * The read-only HTTP gateway: JSON views composed from gRPC reads, the built page as static
 * files, and `/api/events`, a Server-Sent Events stream that says `change` whenever a service's
 * log position moves (one poll of GetStatus for all viewers; the page then re-reads its view).
 */
export async function startGateway(options: GatewayOptions, port: number, host = '127.0.0.1'): Promise<Gateway> {
  const { ewx } = options;
  const files = staticFiles(options.webRoot ?? WEB_ROOT);
  const viewers = new Set<ServerResponse>();
  let last = '';
  let polling = false;
  let again = false;
  /** Re-reads the statuses and tells every viewer when they moved; calls while one runs coalesce into one more. */
  const poll = async (): Promise<void> => {
    if (viewers.size === 0) return;
    if (polling) {
      again = true;
      return;
    }
    polling = true;
    try {
      const s = await statuses(ewx);
      const key = JSON.stringify(s);
      if (key !== last) {
        last = key;
        const msg = `event: change\ndata: ${JSON.stringify({ height: s.consensus.height, services: s })}\n\n`;
        for (const v of viewers) v.write(msg);
      }
    } catch {
      /* a service restarting: the next event or poll tells */
    } finally {
      polling = false;
      if (again) {
        again = false;
        void poll();
      }
    }
  };
  // Fed by the services' Watch streams (polling GetStatus only while one is down); opened with the first viewer.
  let feed: ReturnType<typeof liveFeed> | undefined;
  const audits = options.audit ? auditor(options.audit) : undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const security = {
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end(JSON.stringify({ error: 'read-only: GET only' }));
      return;
    }
    // Probes: alive while the process serves; ready while the services answer GetStatus.
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (url.pathname === '/readyz') {
      try {
        await statuses(ewx);
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ready');
      } catch (e) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end((e as Error).message);
      }
      return;
    }
    if (url.pathname === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write('retry: 1000\n\n');
      if (last) res.write(`event: change\ndata: ${JSON.stringify({ services: JSON.parse(last) })}\n\n`);
      viewers.add(res);
      feed ??= liveFeed(ewx, () => void poll(), { pollMs: options.pollMs ?? 500 });
      req.on('close', () => viewers.delete(res));
      void poll();
      return;
    }
    if (url.pathname === '/api/live') {
      res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify({ viewers: viewers.size, watching: feed?.watching() ?? [] }));
      return;
    }
    if (url.pathname === '/api/audit' || url.pathname === '/api/audit/bundle') {
      const json = (code: number, body: unknown, extra: Record<string, string> = {}) =>
        res
          .writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra })
          .end(JSON.stringify(body, null, extra['content-disposition'] ? 2 : 0));
      if (!audits) {
        json(404, { error: NO_AUDIT });
        return;
      }
      try {
        if (url.pathname === '/api/audit') {
          json(
            200,
            await audits.latest(
              await statuses(ewx).then(
                (s) => JSON.stringify(s),
                () => 'services unreachable',
              ),
            ),
          );
          return;
        }
        const q = url.searchParams;
        const op = q.get('operator') ?? '';
        const period = Number(q.get('period'));
        if (!/^ed25519:[0-9a-f]{64}$/.test(op)) {
          json(400, { error: `operator: expected ed25519:<64 lowercase hex>, got ${JSON.stringify(op)}` });
          return;
        }
        if (!Number.isInteger(period) || period < 0 || q.get('period') === '') {
          json(400, { error: `period: expected a whole number, got ${JSON.stringify(q.get('period'))}` });
          return;
        }
        const bundle = await audits.bundle(op, period, q.get('group') || undefined);
        json(200, bundle, { 'content-disposition': `attachment; filename="bundle-${op.slice(8, 20)}-p${period}.json"` });
      } catch (e) {
        json(422, { error: (e as Error).message });
      }
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      const route = ROUTES.map(([re, fn]) => [url.pathname.match(re), fn] as const).find(([m]) => m);
      if (!route) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no such view: ${url.pathname}` }));
        return;
      }
      try {
        const m = route[0]!.map((p) => decodeURIComponent(p)) as RegExpMatchArray;
        const body = await route[1](ewx, m, url.searchParams);
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', ...security }).end(JSON.stringify(body));
      } catch (e) {
        res.writeHead(httpStatus(e), { 'content-type': 'application/json' }).end(JSON.stringify({ error: (e as Error).message }));
      }
      return;
    }
    const f = files.get(url.pathname);
    if (!f) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-cache', ...security }).end(req.method === 'HEAD' ? undefined : f.body);
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    server,
    url: `http://${host}:${bound}/`,
    close: async () => {
      feed?.close();
      for (const v of viewers) v.end();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
