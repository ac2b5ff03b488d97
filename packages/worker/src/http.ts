import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerRuntime } from './runtime.js';

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * `/healthz`: 200 while the runtime's loop keeps looking at the network (it is alive, even if the
 * network is down); `/readyz`: 200 when the status ladder says ready, else 503 with the reason;
 * `/metrics`: Prometheus text. Each answers with the runtime's state as JSON, except `/metrics`.
 */
export function startHealthServer(runtime: WorkerRuntime, port: number, host = '0.0.0.0', staleMs = 30_000): Promise<HealthServer> {
  const started = Date.now();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body) + '\n');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return;
    }
    const s = runtime.state();
    if (path === '/healthz') {
      // Alive: the loop turns (or the process is young). A network outage is no reason to restart the worker.
      const alive = Date.now() - (s.lastTickAt ?? started) < staleMs;
      json(alive ? 200 : 503, { alive, ...s });
    } else if (path === '/readyz') {
      json(s.status === 'ready' ? 200 : 503, s);
    } else if (path === '/metrics') {
      runtime.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': runtime.metrics.registry.contentType });
          res.end(text);
        },
        (e: Error) => {
          res.writeHead(500);
          res.end(e.message);
        },
      );
    } else {
      json(404, { error: `no such path ${path}: /healthz, /readyz or /metrics` });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
