/**
 * Where a vote's time goes inside the voting process, stage by stage, on N signed votes of one
 * round (in this process, PostgreSQL for the store, no gRPC transport): protobuf decode, signing
 * bytes (re-encode), ed25519 verify, decide (batches of 500), append + apply (one execute per
 * batch, as the batcher does), and the relay's JSON envelope. Prints µs per vote per stage.
 * Run: npm run bench -w @ewx/voting (first part), or `npx tsx bench/stages.bench.ts` in services/voting
 * (needs PostgreSQL: DATABASE_URL; BENCH_VOTES, default 4000).
 */
import { createRuntime, generateKeyPair, postgresEventStore, signCommand, signingBytes, silentLogger, toEnvelope, verifyBytes, type EventData } from '@ewx/platform';
import { realInfra } from '@ewx/platform/testing';
import { SubmitVoteRequest } from '@ewx/proto/voting';
import { decideVotes, roundKey, roundStream, startRound, votingDecider, type VoteCommand, type VotingState } from '../src/domain/decider.js';
import { REGISTRAR, block, world, worker } from '../src/domain/testing.js';

const N = Number(process.env.BENCH_VOTES ?? 4000);
const BATCH = 500;
const { infra, skip } = await realInfra();
if (!infra) { console.log(JSON.stringify({ bench: 'voting stages', skipped: skip })); process.exit(0); }
const url = infra.databaseUrl;
const M = '/ewx.v1.Voting/SubmitVote';
const keys = Array.from({ length: N }, () => generateKeyPair());
const wire = keys.map((k, i) => SubmitVoteRequest.encode(signCommand(k, M, { auth: undefined, solution: 's1', roundId: 'r', result: Buffer.from([i % 3]) }, 1n, (m) => SubmitVoteRequest.encode(m).finish())).finish());
const time = (f: () => void): number => { const t = performance.now(); f(); return ((performance.now() - t) * 1000) / N; };
const timeAsync = async (f: () => Promise<void>): Promise<number> => { const t = performance.now(); await f(); return ((performance.now() - t) * 1000) / N; };

let reqs: SubmitVoteRequest[] = [];
const decode = time(() => { reqs = wire.map((b) => SubmitVoteRequest.decode(b)); });
let bytes: Buffer[] = [];
const signing = time(() => { bytes = reqs.map((r) => Buffer.from(signingBytes(M, r.auth!.signer, r.auth!.nonce, SubmitVoteRequest.encode({ ...r, auth: undefined }).finish()))); });
const verifyFirst = time(() => { reqs.forEach((r, i) => { if (!verifyBytes(r.auth!.signer, bytes[i]!, r.auth!.signature)) throw new Error('verify'); }); });
const verifyCached = time(() => { reqs.forEach((r, i) => { if (!verifyBytes(r.auth!.signer, bytes[i]!, r.auth!.signature)) throw new Error('verify'); }); });

// The round's world: N operators with the signing keys as their workers.
const events: EventData[] = [...world({}, 0), ...keys.flatMap((k, i) => [
  { type: 'OperatorSubscribed', data: { group: 'g1', operator: worker(i), stake: '1000', activeFromPeriod: 0, height: 1 } },
  { type: 'WorkerConnected', data: { operator: worker(i), worker: k.address, height: 1 } },
] as EventData[]), block(10)];
const store = await postgresEventStore(url, `stages${Date.now()}`);
// The inputs written as inbox records in one append before the start (replayed by it): the inbox's
// one transaction per event is not what this bench measures.
await store.append('inbox:registry:world', events, 'any');
const rt = createRuntime('voting', store, votingDecider, silentLogger);
await rt.start();
await rt.execute(roundStream('s1', 'r'), (s) => startRound(s, 's1', 'r', { kind: 'account', address: REGISTRAR }).events);
const cmds: VoteCommand[] = reqs.map((r) => ({ solution: r.solution, roundId: r.roundId, worker: r.auth!.signer, result: Buffer.from(r.result).toString('hex'), nonce: r.auth!.nonce, signature: Buffer.from(r.auth!.signature).toString('hex') }));
const decide = time(() => { for (let i = 0; i < N; i += BATCH) decideVotes(rt.state(), cmds.slice(i, i + BATCH), rt.lastNonce); });
const executes = await timeAsync(async () => {
  for (let i = 0; i < N; i += BATCH) await rt.execute(roundStream('s1', 'r'), (s: VotingState) => decideVotes(s, cmds.slice(i, i + BATCH), rt.lastNonce).events);
});
const recorded = await store.readStream(roundStream('s1', 'r'));
const envelope = time(() => { for (const e of recorded) JSON.stringify(toEnvelope('voting', e)); });
const verifyAndRest = verifyCached + decode + signing + decide + executes + envelope;
console.log(JSON.stringify({
  bench: 'voting stages per vote (µs), in process', votes: N, batch: BATCH, recorded: rt.state().rounds.get(roundKey('s1', 'r'))!.votes.size,
  usPerVote: { protobufDecode: +decode.toFixed(1), signingBytes: +signing.toFixed(1), verifyFirstSeen: +verifyFirst.toFixed(1), verifyKeyCached: +verifyCached.toFixed(1),
    decide: +decide.toFixed(1), executeDecideAppendApply: +executes.toFixed(1), relayEnvelopeJson: +envelope.toFixed(1) },
  // What one thread could do if these stages were all: the verify share is the ceiling's.
  votesPerSecondOneThread: Math.round(1e6 / verifyAndRest), verifyShare: +(verifyCached / verifyAndRest).toFixed(2),
  loadAverage: (await import('node:os')).loadavg().map((x) => +x.toFixed(1)),
}, null, 1));
await rt.stop();
process.exit(0);
