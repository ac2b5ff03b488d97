import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { channelCredentials, readEnv, serverCredentials, silentLogger } from '@ewx/platform';
import { invokeUnary, testPki } from '@ewx/platform/testing';
import type { ServiceStatus } from '@ewx/proto/common';
import { VotingService, type SubmitVoteRequest, type SubmitVotesResponse } from '@ewx/proto/voting';
import { partitionOf, partitionSettingsFrom } from './partitions.js';
import { FORWARDED, STATUS_AFTER, STATUS_OF, STATUS_WAIT_MS, votingRouter, type Route } from './router.js';

/** Solutions that fall in partitions 0, 1 and 2 of 3. */
const P = 3;
const sol: string[] = [];
for (let i = 0; sol.filter(Boolean).length < P; i++) sol[partitionOf(`s${i}`, P)] ??= `s${i}`;

const voteFor = (solution: string, n: number): SubmitVoteRequest => ({ solution, roundId: `r${n}`, result: Buffer.from([n]), auth: undefined });

/** A stand-in partition: answers each vote with its own tag in `message`, or refuses the whole call. */
const partition = (tag: string, refuse?: string) => ({
  submitVotes: (call: grpc.ServerUnaryCall<{ votes: SubmitVoteRequest[] }, SubmitVotesResponse>, cb: grpc.sendUnaryData<SubmitVotesResponse>) =>
    refuse
      ? cb({ code: grpc.status.UNAVAILABLE, details: refuse } as grpc.ServiceError)
      : cb(null, { results: call.request.votes.map((v) => ({ code: 0, message: `${tag}:${v.roundId}`, accepted: true })) }),
  getRound: (call: grpc.ServerUnaryCall<{ solution: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { solution: call.request.solution, tag }),
});

const call = <Req>(request: Req, forwarded = false): grpc.ServerUnaryCall<Req, unknown> => {
  const metadata = new grpc.Metadata();
  if (forwarded) metadata.set(FORWARDED, '1');
  return { request, metadata } as unknown as grpc.ServerUnaryCall<Req, unknown>;
};

describe('votingRouter', () => {
  const routes: Record<number, Route> = {
    0: { local: partition('p0') as never },
    1: { local: partition('p1', 'voting partition 1 is starting on this replica (a)') as never },
    2: { remote: '127.0.0.1:1', owner: 'b' },
  };
  const router = votingRouter({ partitions: P, route: (k) => routes[k]!, forwardTimeoutMs: 1000, log: silentLogger });
  const impl = router.implementation as Record<string, unknown>;

  test('SubmitVotes across partitions: each part to its partition, the answers in the request order, a refusal kept per vote', async () => {
    const votes = [voteFor(sol[0]!, 1), voteFor(sol[1]!, 2), voteFor(sol[0]!, 3), voteFor(sol[1]!, 4)];
    const res = await invokeUnary<SubmitVotesResponse>(impl.submitVotes, call({ votes }));
    assert.deepEqual(
      res.results.map((r) => [r.code, r.accepted, r.message]),
      [
        [0, true, 'p0:r1'],
        [grpc.status.UNAVAILABLE, false, 'voting partition 1 is starting on this replica (a)'],
        [0, true, 'p0:r3'],
        [grpc.status.UNAVAILABLE, false, 'voting partition 1 is starting on this replica (a)'],
      ],
    );
  });

  test('a request about a solution goes to its partition; a forwarded one is not forwarded again', async () => {
    assert.deepEqual(await invokeUnary(impl.getRound, call({ solution: sol[0]!, roundId: 'x' })), { solution: sol[0], tag: 'p0' });
    await assert.rejects(invokeUnary(impl.getRound, call({ solution: sol[2]!, roundId: 'x' }, true)), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.UNAVAILABLE);
      assert.match(e.details, /voting partition 2 \(solution .*\) moved while the request was forwarded \(now owned by replica b\); retry/);
      return true;
    });
  });

  test('a partition changing hands (no owner for a moment) is waited for, not refused at once', async () => {
    let owned = false;
    const moving = votingRouter({
      partitions: P,
      route: (k) => (k === 0 && !owned ? { none: 'voting partition 0 has no live owner now' } : { local: partition(`p${k}`) as never }),
      forwardTimeoutMs: 5_000,
      log: silentLogger,
    });
    const m = moving.implementation as Record<string, unknown>;
    const answer = invokeUnary(m.getRound, call({ solution: sol[0]!, roundId: 'x' }));
    const votes = invokeUnary<SubmitVotesResponse>(m.submitVotes, call({ votes: [voteFor(sol[0]!, 1)] }));
    setTimeout(() => {
      owned = true;
    }, 150);
    assert.deepEqual(await answer, { solution: sol[0], tag: 'p0' });
    assert.deepEqual(
      (await votes).results.map((r) => r.message),
      ['p0:r1'],
    );
    // Still without an owner at the deadline: UNAVAILABLE with the reason.
    const never = votingRouter({
      partitions: P,
      route: () => ({ none: 'voting partition 0 has no live owner now' }),
      forwardTimeoutMs: 200,
      log: silentLogger,
    });
    await assert.rejects(
      invokeUnary((never.implementation as Record<string, unknown>).getRound, call({ solution: sol[0]!, roundId: 'x' })),
      (e: grpc.ServiceError) => {
        assert.equal(e.code, grpc.status.UNAVAILABLE);
        assert.match(e.details, /no live owner now/);
        return true;
      },
    );
    moving.close();
    never.close();
  });

  test('an owner that cannot be reached: UNAVAILABLE naming the partition, the replica and its address', async () => {
    await assert.rejects(invokeUnary(impl.getRound, call({ solution: sol[2]!, roundId: 'x' })), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.UNAVAILABLE);
      assert.match(e.details, /^voting partition 2 is owned by replica b at 127\.0\.0\.1:1, which did not answer/);
      return true;
    });
    router.close();
  });
});

describe("votingRouter: a partition moving answers UNAVAILABLE before the caller's deadline, over gRPC", () => {
  test('no owner for longer than the caller waits: UNAVAILABLE saying why (not DEADLINE_EXCEEDED), also through a forwarding replica', async () => {
    // Replica y: partition 2 is "starting" there (for ever); replica x forwards partition 2 to y. Both
    // would wait up to VOTING_FORWARD_TIMEOUT_MS (30 s here), far past the client's 1.5 s deadline.
    const servers: grpc.Server[] = [];
    const routers: ReturnType<typeof votingRouter>[] = [];
    const serve = async (r: ReturnType<typeof votingRouter>): Promise<number> => {
      const server = new grpc.Server();
      server.addService(VotingService, r.implementation);
      servers.push(server);
      routers.push(r);
      return new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    };
    const starting = 'voting partition 2 is starting on this replica (y): rebuilding its state from its log; retry';
    const y = await serve(votingRouter({ partitions: P, route: () => ({ none: starting }), forwardTimeoutMs: 30_000, log: silentLogger }));
    const x = await serve(
      votingRouter({ partitions: P, route: () => ({ remote: `127.0.0.1:${y}`, owner: 'y' }), forwardTimeoutMs: 30_000, log: silentLogger }),
    );
    const client = (port: number) => new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const unary = (c: grpc.Client, method: string, req: unknown, encode: (m: never) => Buffer, deadlineMs: number) =>
      new Promise<unknown>((resolve, reject) =>
        c.makeUnaryRequest(
          `/ewx.v1.Voting/${method}`,
          encode,
          (b: Buffer) => b,
          req as never,
          new grpc.Metadata(),
          { deadline: Date.now() + deadlineMs },
          (e, r) => (e ? reject(e) : resolve(r)),
        ),
      );
    const def = VotingService as unknown as Record<string, { requestSerialize: (m: never) => Buffer }>;
    try {
      for (const [via, port] of [
        ['y, where it starts', y],
        ['x, forwarding to y', x],
      ] as const) {
        const c = client(port);
        for (const [method, req] of [
          ['SubmitVotes', { votes: [voteFor(sol[2]!, 1)] }],
          ['GetRound', { solution: sol[2]!, roundId: 'r1' }],
        ] as const)
          await assert.rejects(
            unary(c, method, req, def[method === 'SubmitVotes' ? 'submitVotes' : 'getRound']!.requestSerialize, 1500),
            (e: grpc.ServiceError) => {
              assert.equal(e.code, grpc.status.UNAVAILABLE, `${method} through ${via}: ${e.code} ${e.details}`);
              assert.match(e.details, /voting partition 2 (is starting|is owned by replica y)/, `${method} through ${via}`);
              return true;
            },
          );
        c.close();
      }
    } finally {
      for (const r of routers) r.close();
      for (const s of servers) s.forceShutdown();
    }
  });
});

describe('votingRouter over TLS: a replica forwards to another that serves TLS', () => {
  test('with the client TLS settings (CA, client certificate) and VOTING_FORWARD_TLS_NAME: forwarded; without TLS or under a name the certificate lacks: UNAVAILABLE', async () => {
    const pki = testPki();
    // The owner: a real gRPC server over mutual TLS (GRPC_TLS_CLIENT_CA_FILE set), answering as partition 2.
    const server = new grpc.Server();
    server.addService(VotingService, partition('owner') as never);
    const creds = serverCredentials({ cert: pki.read('serverCert'), key: pki.read('serverKey'), clientCa: pki.read('ca') });
    const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? rej(e) : res(p))));
    const settingsOf = (extra: Record<string, string>) =>
      partitionSettingsFrom(
        readEnv({ DATABASE_URL: 'postgres://x@h/db', VOTING_PARTITIONS: String(P), VOTING_ADVERTISE_ADDRESS: 'me:1', ...extra }),
        'standalone',
      );
    const routerOf = (extra: Record<string, string>) => {
      const s = settingsOf(extra);
      return votingRouter({
        partitions: P,
        route: () => ({ remote: `127.0.0.1:${port}`, owner: 'b' }),
        forwardTimeoutMs: 3000,
        log: silentLogger,
        credentials: channelCredentials(s.forwardTls),
        ...(s.forwardTlsName === undefined ? {} : { tlsName: s.forwardTlsName }),
      });
    };
    const tls = { GRPC_CLIENT_TLS_CA_FILE: pki.files.ca, GRPC_CLIENT_TLS_CERT_FILE: pki.files.clientCert, GRPC_CLIENT_TLS_KEY_FILE: pki.files.clientKey };
    // SubmitVotes of one partition's votes is forwarded whole (the stand-in tags each vote's answer).
    const submit = (r: ReturnType<typeof votingRouter>, n: number) =>
      invokeUnary<SubmitVotesResponse>((r.implementation as Record<string, unknown>).submitVotes, call({ votes: [voteFor(sol[2]!, n)] })).then((res) =>
        res.results.map((x) => x.message),
      );
    const routers: ReturnType<typeof votingRouter>[] = [];
    try {
      const ok = routerOf({ ...tls, VOTING_FORWARD_TLS_NAME: 'localhost' });
      const byIp = routerOf(tls);
      const plaintext = routerOf({});
      const wrongName = routerOf({ ...tls, VOTING_FORWARD_TLS_NAME: 'voting' });
      const noClientCert = routerOf({ GRPC_CLIENT_TLS_CA_FILE: pki.files.ca });
      routers.push(ok, byIp, plaintext, wrongName, noClientCert);
      assert.deepEqual(await submit(ok, 7), ['owner:r7'], 'checked under the name localhost');
      assert.deepEqual(await submit(byIp, 8), ['owner:r8'], 'checked under the address 127.0.0.1');
      for (const [name, r] of [
        ['plaintext', plaintext],
        ['a name the certificate lacks', wrongName],
        ['no client certificate', noClientCert],
      ] as const)
        await assert.rejects(submit(r, 9), (e: grpc.ServiceError) => {
          assert.equal(e.code, grpc.status.UNAVAILABLE, name);
          assert.match(e.details, /^voting partition 2 is owned by replica b at 127\.0\.0\.1:\d+, which did not answer/, name);
          return true;
        });
      assert.throws(() => settingsOf({ VOTING_FORWARD_TLS_NAME: 'a b' }), /VOTING_FORWARD_TLS_NAME: expected a DNS name/);
    } finally {
      for (const r of routers) r.close();
      server.forceShutdown();
      pki.remove();
    }
  });
});

describe('votingRouter GetStatus: every partition, over gRPC', () => {
  test("the lowest height of all partitions, every partition's position (the merged Watch's token) and status; a replica asked for one partition it does not hold refuses", async () => {
    const statusPart = (k: number, height: number) => ({
      getStatus: (_c: unknown, cb: grpc.sendUnaryData<unknown>) =>
        cb(null, { service: `voting_p${k}`, logPosition: BigInt(10 + k), height: BigInt(height), position: `pos${k}` }),
    });
    // Replica B holds partition 0 (height 7) and serves its router over real gRPC; replica A holds 1 (height 5) and 2 (height 9).
    const server = new grpc.Server();
    const b = votingRouter({
      partitions: P,
      route: (k) => (k === 0 ? { local: statusPart(0, 7) as never } : { remote: '127.0.0.1:1', owner: 'a' }),
      forwardTimeoutMs: 2000,
      log: silentLogger,
    });
    server.addService(b.definition, b.implementation);
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    const a = votingRouter({
      partitions: P,
      route: (k) => (k === 0 ? { remote: `127.0.0.1:${port}`, owner: 'b' } : { local: statusPart(k, k === 1 ? 5 : 9) as never }),
      forwardTimeoutMs: 2000,
      log: silentLogger,
      replica: 'a',
    });
    try {
      const status = await invokeUnary<ServiceStatus>((a.implementation as Record<string, unknown>).getStatus, call({}));
      assert.deepEqual([status.service, BigInt(status.height), status.position, BigInt(status.logPosition)], ['voting_p1', 5n, 'P3:pos0,pos1,pos2', 11n]);
      // Each partition's own status, partition 0's asked of B over gRPC.
      assert.deepEqual(
        status.partitions.map((p) => [p.partition, p.log, p.owner, BigInt(p.logPosition), BigInt(p.height), p.position]),
        [
          [0, 'voting_p0', 'b', 10n, 7n, 'pos0'],
          [1, 'voting_p1', 'a', 11n, 5n, 'pos1'],
          [2, 'voting_p2', 'a', 12n, 9n, 'pos2'],
        ],
      );
      // B's partition 0 is the lowest now: A's answer follows it (B asked for partition 0 over gRPC, by STATUS_OF).
      const lowB = votingRouter({
        partitions: P,
        route: (k) => (k === 0 ? { remote: `127.0.0.1:${port}`, owner: 'b' } : { local: statusPart(k, 8) as never }),
        forwardTimeoutMs: 2000,
        log: silentLogger,
      });
      assert.equal(BigInt((await invokeUnary<{ height: bigint }>((lowB.implementation as Record<string, unknown>).getStatus, call({}))).height), 7n);
      lowB.close();
      // B asked for partition 1's status, which it does not hold: refused, not forwarded again.
      const md = new grpc.Metadata();
      md.set(FORWARDED, '1');
      md.set(STATUS_OF, '1');
      await assert.rejects(
        invokeUnary((b.implementation as Record<string, unknown>).getStatus, { request: {}, metadata: md } as never),
        (e: grpc.ServiceError) => {
          assert.equal(e.code, grpc.status.UNAVAILABLE);
          assert.match(e.details, /voting partition 1 \(status\) moved while the request was forwarded/);
          return true;
        },
      );
      md.set(STATUS_OF, '9');
      await assert.rejects(
        invokeUnary((b.implementation as Record<string, unknown>).getStatus, { request: {}, metadata: md } as never),
        (e: grpc.ServiceError) => {
          assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
          assert.match(e.details, /ewx-voting-status-of/);
          return true;
        },
      );
    } finally {
      a.close();
      b.close();
      server.forceShutdown();
    }
  });
});

describe('votingRouter GetStatus of one partition for a watcher elsewhere (STATUS_AFTER): a long poll', () => {
  test('held until the partition applies an event after the position, or the wait ends; a bad position refused', async () => {
    // A partition held here: its runtime's position and notification, and its getStatus reading them.
    let position = '5';
    const listeners = new Set<() => void>();
    const runtime = {
      service: 'voting_p0',
      store: { readAll: async () => [] },
      position: () => position as never,
      onEvent: (l: () => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    const gone = new AbortController();
    const router = votingRouter({
      partitions: P,
      route: () => ({
        local: {
          getStatus: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { service: 'voting_p0', logPosition: BigInt(position), height: 1n, position }),
        } as never,
      }),
      forwardTimeoutMs: 5_000,
      log: silentLogger,
      logs: {
        local: (k) => (k === 0 ? { runtime: runtime as never, gone: gone.signal } : undefined),
        reader: () => runtime.store,
        name: (k) => `voting_p${k}`,
      },
    });
    const ask = (after: string, waitMs: number) => {
      const md = new grpc.Metadata();
      md.set(FORWARDED, '1');
      md.set(STATUS_OF, '0');
      md.set(STATUS_AFTER, after);
      md.set(STATUS_WAIT_MS, String(waitMs));
      return invokeUnary<{ position: string }>((router.implementation as Record<string, unknown>).getStatus, { request: {}, metadata: md } as never);
    };
    try {
      // Already past it: at once.
      assert.equal((await ask('4', 5_000)).position, '5');
      // Not yet: held until an event is applied after it.
      let moved = false;
      const held = ask('5', 5_000).then((s) => ({ s, moved }));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(listeners.size, 1, 'the question waits on the runtime');
      moved = true;
      position = '6';
      for (const l of [...listeners]) l();
      const { s, moved: after } = await held;
      assert.deepEqual([s.position, after], ['6', true], 'answered with the new position, after it was applied');
      assert.equal(listeners.size, 0);
      // Nothing new: answered once the wait ends, with the same position.
      const t0 = performance.now();
      assert.equal((await ask('6', 200)).position, '6');
      assert.ok(performance.now() - t0 >= 190, 'held for the wait');
      // The partition stopping here ends the wait.
      const stopping = ask('6', 5_000);
      gone.abort();
      assert.equal((await stopping).position, '6');
      await assert.rejects(ask('x', 100), (e: grpc.ServiceError) => {
        assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
        assert.match(e.details, /ewx-voting-status-after: a log position of partition 0, got "x"/);
        return true;
      });
    } finally {
      router.close();
    }
  });
});
