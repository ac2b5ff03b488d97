import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { generateKeyPair, nonceCounter, schemaFor, type KeyPair } from '@ewx/platform';
import {
  freePort,
  produceBlocks,
  realInfra,
  rpc,
  seedStandaloneNetwork,
  signedFor,
  startServiceProcess,
  testGroupConfig,
  testSolutionConfig,
  uniqueNamespace,
  untilEligibleWorkers,
  waitFor,
} from '@ewx/platform/testing';
import type { WatchEvent } from '@ewx/proto/common';
import { ConsensusClient } from '@ewx/proto/consensus';
import { RegisterSolutionRequest, RegistryClient } from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';
import { StartRoundRequest, SubmitVoteRequest, VotingClient } from '@ewx/proto/voting';
import { partitionCategory } from './app/partitioned.js';
import { partitionOf } from './app/partitions.js';
import { positionsOf } from './app/watch.js';
import { solutionsByPartition, startPartitionedNetwork, whileUnavailable, type PartitionedNetwork } from './testing/replicas.js';

/**
 * Watch on a partitioned voting (VOTING_PARTITIONS=2, two replicas as separate processes on the
 * real Kafka and PostgreSQL): one stream merges both partition logs, whichever replica serves it,
 * each event with its partition and its position there, in each partition's order; a watcher that
 * reconnects (to the other replica) with the last position it got receives exactly the rest; a
 * watcher stays whole while partitions change hands (a replica stopped, another started). GetStatus
 * gives each partition's position, and its `position` starts a watch "from now".
 */
const { infra, skip } = await realInfra();
const CLI = fileURLToPath(new URL('../../../packages/cli/dist/main.js', import.meta.url));
const ewx = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) =>
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
const P = 2;
const G = 'watch.group';
const TYPES = ['RoundStarted', 'VoteCast', 'VotesCast'];
/** With include_inputs: the rounds and votes, and these inputs (recorded by every partition's inbox). */
const INPUT_TYPES = ['SolutionRegistered', 'WorkerConnected', 'BlockProduced', 'BlocksProduced'];
const WITH_INPUTS = { types: [...TYPES, ...INPUT_TYPES], includeInputs: true };
const solutions = solutionsByPartition('watch', P);

/** One Watch call kept open, collecting what it receives. */
function watcher(client: VotingClient, fromPosition: string, what: { types: string[]; includeInputs: boolean } = { types: TYPES, includeInputs: false }) {
  const got: WatchEvent[] = [];
  let failed: grpc.ServiceError | undefined;
  const call = client.watch({ fromPosition, ...what });
  /** When each event arrived (performance.now()), by `<partition>|<position there>`. */
  const at = new Map<string, number>();
  call.on('data', (e: WatchEvent) => {
    at.set(`${e.partition}|${e.partitionPosition}`, performance.now());
    got.push(e);
  });
  call.on('error', (e: grpc.ServiceError) => {
    if (e.code !== grpc.status.CANCELLED) failed = e;
  });
  return {
    got,
    at,
    cancel: () => call.cancel(),
    /** Until `done(got)`; fails at once if the stream failed, and after 60 s. */
    until: async (what: string, done: (got: WatchEvent[]) => boolean): Promise<WatchEvent[]> => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (failed) throw new Error(`the watch stream failed: ${failed.code} ${failed.details}`);
        if (done(got)) return got;
        if (Date.now() > deadline) throw new Error(`timed out after 60 s waiting for ${what} (${got.length} events received)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

describe('voting Watch merges every partition log, on any replica, resumable, across hand-overs', { skip, timeout: 300_000 }, () => {
  const admin = generateKeyPair();
  const validator = generateKeyPair();
  const nonce = nonceCounter();
  const signed = signedFor(nonce);
  const ns = uniqueNamespace('watchp');
  const R = generateKeyPair();
  const ops = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const workers = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  let nw: PartitionedNetwork;
  const client = <C>(Ctor: new (a: string, c: grpc.ChannelCredentials) => C, name: string): C => nw.client(Ctor, name);
  const db = new pg.Pool({ connectionString: infra?.databaseUrl, max: 2 });

  const vote = (w: KeyPair, solution: string, roundId: string): SubmitVoteRequest =>
    signed(w, 'Voting/SubmitVote', { auth: undefined, solution, roundId, result: Buffer.from('c0ffee', 'hex') }, SubmitVoteRequest.encode);
  const owners = (): Promise<Map<number, string | null>> => nw.owners();
  /** A round of each solution started and voted by every worker, all through `via`. */
  const roundOfEach = async (via: VotingClient, roundId: string): Promise<void> => {
    for (const s of solutions) {
      await whileUnavailable(`round ${roundId} of ${s} started`, () =>
        rpc(via, 'startRound', signed(R, 'Voting/StartRound', { auth: undefined, solution: s, roundId }, StartRoundRequest.encode)),
      );
      for (const w of workers) {
        const req = vote(w, s, roundId);
        const res = await whileUnavailable(`a vote in ${roundId} of ${s}`, () => rpc(via, 'submitVote', req));
        assert.equal(res.accepted, true);
      }
    }
  };
  /** Partition k's log as the watch shows it: its round and vote events, in log order. */
  const logOf = async (k: number): Promise<string[]> =>
    (
      await db.query<{ at: string; type: string; stream_id: string }>(
        `SELECT e.position::text AS at, e.type, e.stream_id FROM ${schemaFor(partitionCategory(ns, k))}.events e WHERE e.type = ANY($1) ORDER BY e.position`,
        [TYPES],
      )
    ).rows.map((r) => `${r.at}|${r.type}|${r.stream_id}`);
  const seen = (got: readonly WatchEvent[], k: number): string[] =>
    got.filter((e) => e.partition === k).map((e) => `${e.partitionPosition}|${e.type}|${e.streamId}`);
  /** Every event of both logs received, in each log's order, none twice; the tokens follow the events. */
  const exactly = async (got: readonly WatchEvent[], what: string): Promise<void> => {
    for (let k = 0; k < P; k++) assert.deepEqual(seen(got, k), await logOf(k), `${what}: partition ${k} as its log, in order, once each`);
    const last: string[] = Array.from({ length: P }, () => '');
    for (const e of got) {
      last[e.partition!] = e.partitionPosition!;
      assert.deepEqual(positionsOf(e.position, P), last, `${what}: the token after ${e.partitionPosition} in partition ${e.partition}`);
      assert.equal(partitionOf(e.streamId.split(':')[1]!, P), e.partition, `${what}: ${e.streamId} is in its solution's partition`);
      assert.equal(e.source, 'voting', `${what}: published by voting`);
    }
  };

  /**
   * With include_inputs: partition k's log as the watch shows it (its rounds and votes; for partition
   * 0 also its inbox copies of INPUT_TYPES, the only copies sent), read now; the watcher's events of
   * each partition begin with exactly these (the logs only grow), every input once, none from another
   * partition's copies, and the tokens follow the events.
   */
  const withInputsExactly = async (w: ReturnType<typeof watcher>, what: string, before: readonly WatchEvent[] = []): Promise<void> => {
    const logs: string[][] = [];
    for (let k = 0; k < P; k++)
      logs.push(
        (
          await db.query<{ at: string; type: string; stream_id: string }>(
            `SELECT e.position::text AS at, e.type, e.stream_id FROM ${schemaFor(partitionCategory(ns, k))}.events e WHERE e.type = ANY($1) ORDER BY e.position`,
            [k === 0 ? WITH_INPUTS.types : TYPES],
          )
        ).rows.map((r) => `${r.at}|${r.type}|${r.stream_id}`),
      );
    const need = logs.reduce((n, l) => n + l.length, 0);
    const got = await w.until(`${what}: ${need} events`, (g) => before.length + g.length >= need);
    const all = [...before, ...got];
    for (let k = 0; k < P; k++) {
      const mine = seen(all, k);
      assert.deepEqual(mine.slice(0, logs[k]!.length), logs[k], `${what}: partition ${k} as its log (inputs from partition 0 only), in order, once each`);
    }
    const inputs = all.filter((e) => e.source !== 'voting');
    assert.ok(inputs.length > 0, `${what}: inputs received`);
    assert.deepEqual(
      inputs.filter((e) => e.partition !== 0),
      [],
      `${what}: no copy of an input from partition 1's log`,
    );
    const keys = inputs.map((e) => `${e.source}|${e.sourceStreamId}|${e.type}|${e.version}`);
    assert.equal(new Set(keys).size, keys.length, `${what}: each input once (by source, source stream, type and version)`);
    for (const t of ['SolutionRegistered', 'WorkerConnected'])
      assert.ok(
        inputs.some((e) => e.type === t),
        `${what}: a ${t} input`,
      );
    const last: string[] = Array.from({ length: P }, () => '');
    for (const e of all) {
      last[e.partition!] = e.partitionPosition!;
      assert.deepEqual(positionsOf(e.position, P), last, `${what}: the token after ${e.partitionPosition} in partition ${e.partition}`);
    }
  };

  before(async () => {
    nw = await startPartitionedNetwork(infra!, { ns, admin, validator, partitions: P });
  });
  after(async () => {
    await nw?.stop();
    await db.end();
  });

  test('one stream of both partition logs through either replica; resumed elsewhere with nothing lost or twice; whole across hand-overs; GetStatus per partition', async (t) => {
    await waitFor(
      'each replica to hold one partition',
      async () => {
        const o = await owners();
        return o.size === P && new Set(o.values()).size === P ? o : undefined;
      },
      60_000,
      100,
    );
    const A = client(VotingClient, 'a');
    const B = client(VotingClient, 'b');
    // Watchers from the start, on each replica, before anything happens; one more on b that disconnects midway.
    const onA = watcher(A, '');
    const onB = watcher(B, '');
    const early = watcher(B, '');
    // With include_inputs (on b): each input once, from partition 0's copies, open throughout.
    const inputsOnB = watcher(B, '', WITH_INPUTS);

    const registry = client(RegistryClient, 'registry');
    await waitFor('the reward calendar', () => rpc(client(RewardsClient, 'rewards'), 'getCurrentPeriod', {}));
    await produceBlocks(client(ConsensusClient, 'consensus'), admin, nonce, 1);
    const net = { registry, voting: A, nonce, admin, registrar: R, operators: ops, workers };
    await seedStandaloneNetwork(net, 'watch', testGroupConfig(G, { info: 'watch' }), testSolutionConfig(solutions[0]!, G));
    await rpc(
      registry,
      'registerSolution',
      signed(R, 'Registry/RegisterSolution', { auth: undefined, config: testSolutionConfig(solutions[1]!, G) }, RegisterSolutionRequest.encode),
    );
    await produceBlocks(client(ConsensusClient, 'consensus'), admin, nonce, 10);
    for (const s of solutions) await untilEligibleWorkers({ ...net, voting: A }, s, 3);

    // Round r1 of each solution, half through each replica.
    await roundOfEach(A, 'r1a');
    await roundOfEach(B, 'r1b');
    const total = async (): Promise<number> => (await logOf(0)).length + (await logOf(1)).length;
    let n = await total();
    assert.ok(n >= 2 * P * (1 + workers.length), 'two rounds of each solution, each with its votes (and the rounds the seeding ran)');
    for (const [name, w] of [
      ['the watcher on a', onA],
      ['the watcher on b', onB],
    ] as const) {
      await w.until(`${name} to receive ${n} events`, (got) => got.length >= n);
      await exactly(w.got, name);
      assert.ok(
        [0, 1].every((k) => w.got.some((e) => e.partition === k)),
        `${name} receives both partitions (one held by the other replica)`,
      );
    }
    // Both saw the same events (the interleaving of the partitions may differ, each partition's order may not).
    for (let k = 0; k < P; k++) assert.deepEqual(seen(onA.got, k), seen(onB.got, k));

    // The watcher on b disconnects after part of it; it resumes on replica a later, after a take-over and a hand-over.
    const cut = Math.floor(early.got.length / 2);
    await early.until('the early watcher to have the first half', (got) => got.length >= cut);
    early.cancel();
    const before = early.got.slice(0, cut);
    const token = before[before.length - 1]!.position;
    t.diagnostic(`disconnected after ${cut} events at ${token}`);

    // Take-over: b is SIGKILLed; once its lease expires a takes its partition, while onA is open (its follower
    // of that partition asks a dead owner how far it applied until then, then follows a's own runtime).
    await nw.replicas.b.kill();
    await waitFor(
      'replica a to hold every partition',
      async () => ([...(await owners()).values()].filter((x) => x === 'a').length === P ? true : undefined),
      60_000,
      100,
    );
    await roundOfEach(A, 'r2');
    // A hand-over: b comes back (as b2) and a gives one partition back (a clean stop of it here), so onA's
    // follower of it moves from a's runtime to PostgreSQL.
    const b2 = await startServiceProcess('voting', nw.ports.b!, nw.votingEnvOf('b2'));
    nw.procs.push(b2);
    await waitFor(
      'b2 to take a share',
      async () => {
        const o = await owners();
        return o.size === P && new Set(o.values()).size === P ? o : undefined;
      },
      60_000,
      100,
    );
    const B2 = client(VotingClient, 'b');
    await roundOfEach(B2, 'r3');
    const n1 = n;
    n = await total();
    assert.equal(n, n1 + 2 * P * (1 + workers.length), 'rounds r2 and r3 of each solution, with their votes');
    await onA.until(`the watcher on a, open throughout, to receive all ${n} events`, (got) => got.length >= n);
    await exactly(onA.got, 'the watcher on a, open throughout both hand-overs');
    // The watcher with inputs (on b, killed: it failed then) and the same from its last token on b2 —
    // or, had it got nothing, from the start: the events of both logs, the inputs of partition 0 once.
    const inputsBefore = inputsOnB.got.slice();
    inputsOnB.cancel();
    const inputsAfter = watcher(B2, inputsBefore.at(-1)?.position ?? '', WITH_INPUTS);
    await withInputsExactly(inputsAfter, 'with inputs, resumed on b2 from the token of the watcher b died under', inputsBefore);
    inputsAfter.cancel();
    const inputsOnA = watcher(A, '', WITH_INPUTS);
    await withInputsExactly(inputsOnA, 'with inputs, from the start on a');
    // Resumed mid-way from a token (on b2): exactly the rest.
    const half = inputsOnA.got.slice(0, Math.floor(inputsOnA.got.length / 2));
    inputsOnA.cancel();
    const inputsRest = watcher(B2, half.at(-1)!.position, WITH_INPUTS);
    await withInputsExactly(inputsRest, 'with inputs, the first half on a, the rest from its token on b2', half);
    inputsRest.cancel();

    // The early watcher resumes on replica a from its last position: exactly the rest, per partition.
    const resumed = watcher(A, token);
    await resumed.until(`the resumed watcher to receive the other ${n - cut} events`, (got) => before.length + got.length >= n);
    await exactly([...before, ...resumed.got], 'disconnected, then resumed on the other replica');
    resumed.cancel();

    // `ewx watch voting --from <token>` (the CLI, against replica a): the same events, tokens and partitions.
    const addresses = ['--registry', 'registry', '--voting', 'a', '--consensus', 'consensus', '--rewards', 'rewards', '--distance', 'consensus'].map((x, i) =>
      i % 2 === 0 ? x : `127.0.0.1:${nw.ports[x]}`,
    );
    const json = await ewx([...addresses, '--json', 'watch', 'voting', '--from', token, '--type', ...TYPES, '--count', '3']);
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as WatchEvent);
    assert.equal(lines.length, 3);
    // The partitions may interleave otherwise than in the stream above; each partition's order may not differ.
    for (let k = 0; k < P; k++) {
      const mine = seen(lines, k);
      assert.deepEqual(mine, seen(resumed.got, k).slice(0, mine.length), `the CLI's events of partition ${k}: the rest of it, in order`);
    }
    for (const e of lines) assert.equal(positionsOf(e.position, P)[e.partition!], e.partitionPosition, 'the token after each event names it');
    const human = await ewx([...addresses, 'watch', 'voting', '--from', token, '--type', ...TYPES, '--count', '1']);
    assert.equal(human.code, 0, human.stderr);
    const line = /^(P2:\S+) +p([01]):([0-9]+) (RoundStarted|VoteCast|VotesCast) +(round:\S+) {2}/.exec(human.stdout);
    assert.ok(line, `one line: token, partition and position, type, stream (own events: no "from"): ${human.stdout}`);
    assert.equal(positionsOf(line[1]!, P)[Number(line[2])], line[3]);
    assert.deepEqual(`${line[3]}|${line[4]}|${line[5]}`, seen(resumed.got, Number(line[2]))[0], 'the first event after the token in its partition');

    // GetStatus (through b2): each partition's own position (its log's last event), and a token to watch from now.
    const status = await waitFor('GetStatus with both partitions', async () => {
      const s = await rpc(B2, 'getStatus', {}).catch(() => undefined);
      return s?.partitions.length === P ? s : undefined;
    });
    const o = await owners();
    for (let k = 0; k < P; k++) {
      const p = status.partitions[k]!;
      assert.deepEqual([p.partition, p.log, p.owner], [k, `voting_p${k}`, o.get(k)], `partition ${k}: number, log, owner`);
      const max = await db.query<{ p: string }>(`SELECT max(position)::text AS p FROM ${schemaFor(partitionCategory(ns, k))}.events`);
      assert.ok(BigInt(p.position) <= BigInt(max.rows[0]!.p) && BigInt(p.position) > 0n, `partition ${k}: position ${p.position} in its log`);
      assert.equal(BigInt(p.logPosition), BigInt(p.position));
      assert.ok(BigInt(p.height) >= BigInt(status.height), 'the service height is the lowest partition height');
    }
    assert.deepEqual(
      positionsOf(status.position, P),
      status.partitions.map((p) => p.position),
      'position: the token of every partition',
    );
    const fromNow = watcher(A, status.position);
    const fromNowB = watcher(B2, status.position);
    await roundOfEach(B2, 'r4');
    await fromNow.until('the watcher from GetStatus to receive only round r4', (got) => got.length >= P * (1 + workers.length));
    assert.deepEqual(
      fromNow.got.map((e) => e.streamId.split(':')[2]).filter((r) => r !== 'r4'),
      [],
      'nothing from before the status',
    );
    await fromNowB.until('the same on b2', (got) => got.length >= P * (1 + workers.length));
    // How much later a partition's events reach a watcher on the replica that does not hold it (read from
    // PostgreSQL after its owner said it applied them) than one on its owner (served live): a diagnostic.
    const extra = fromNow.got
      .map((e) => {
        const key = `${e.partition}|${e.partitionPosition}`;
        const [owned, other] = o.get(e.partition!) === 'a' ? [fromNow, fromNowB] : [fromNowB, fromNow];
        return other.at.get(key)! - owned.at.get(key)!;
      })
      .sort((x, y) => x - y);
    t.diagnostic(
      `a partition's events on the replica not holding it vs on its owner: +${extra[Math.floor(extra.length / 2)]!.toFixed(1)} ms median, +${extra[extra.length - 1]!.toFixed(1)} ms max over ${extra.length} events (load ${loadavg()[0]!.toFixed(1)})`,
    );
    fromNowB.cancel();
    fromNow.cancel();

    // A third replica holds no partition (two partitions, two holders): its watchers read both logs from PostgreSQL.
    nw.ports.c = await freePort();
    nw.procs.push(await startServiceProcess('voting', nw.ports.c, nw.votingEnvOf('c')));
    const C = client(VotingClient, 'c');
    const onC = watcher(C, '');
    const all = await total();
    await onC.until(`the watcher on c, which holds no partition, to receive all ${all} events`, (got) => got.length >= all);
    await exactly(onC.got, 'the watcher on a replica holding no partition');
    assert.ok(![...(await owners()).values()].includes('c'), 'c holds no partition');
    onC.cancel();

    // A position that is not this voting's: INVALID_ARGUMENT naming from_position and what is expected.
    for (const [bad, why] of [
      ['42', /is not a position of this voting, which is partitioned \(VOTING_PARTITIONS=2\)/],
      ['P3:1,2,3', /is a position of a voting with 3 partitions; this one has 2/],
      ['P2:1', /has 1 positions, not 2/],
      ['P2:1,x', /the position of partition 1, "x", is not a log position/],
    ] as const) {
      const w = watcher(A, bad);
      await assert.rejects(
        w.until(`the watch from ${bad} to be refused`, () => false),
        (e: Error) => {
          assert.match(e.message, new RegExp(`^the watch stream failed: ${grpc.status.INVALID_ARGUMENT} from_position: `), bad);
          assert.match(e.message, why, bad);
          return true;
        },
      );
    }
    onA.cancel();
    onB.cancel();
  });
});
