import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy a test can cut and restore, to make PostgreSQL or Kafka unreachable for one process
 * without stopping the shared servers. `cut()` closes every connection and refuses new ones (the
 * port stays reserved); `restore()` accepts again.
 *
 * For Kafka, `rewritePort` makes the proxy also stand in for the broker's advertised address:
 * clients connect to the bootstrap address, then to the address the broker advertises in its
 * Metadata and FindCoordinator responses (`127.0.0.1:9092`). Those responses name the host, then
 * the port as a 32-bit integer; the proxy rewrites that port to its own in whole response frames,
 * so every connection of the client goes through it.
 */
export async function tcpProxy(
  target: { host: string; port: number },
  o: { rewritePort?: boolean } = {},
): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  let open = true;
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  let port = 0;
  const server: Server = createServer((client) => {
    track(client);
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    if (!o.rewritePort) {
      upstream.pipe(client);
      return;
    }
    const needle = Buffer.concat([Buffer.from(target.host), int32(target.port)]);
    let pending = Buffer.alloc(0);
    upstream.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      // Kafka frames: a 4-byte size, then the response; rewrite complete frames only.
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const n = 4 + pending.readInt32BE(0);
        const frame = Buffer.from(pending.subarray(0, n));
        pending = pending.subarray(n);
        for (let i = frame.indexOf(needle); i >= 0; i = frame.indexOf(needle, i + needle.length)) frame.writeInt32BE(port, i + target.host.length);
        client.write(frame);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  return {
    port,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      open = true;
    },
    close: () =>
      new Promise<void>((r) => {
        open = false;
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
