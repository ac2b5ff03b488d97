/**
 * Memory of consensus's decision state after R rounds of V votes each, in process (pure domain):
 * every round's events as consensus records them from voting (start, snapshot, V VoteCast, close),
 * then one validator's attestation, which settles it (with its chain entry and vote metadata).
 * Events go through JSON on their way to the fold, as a read from the store gives them. Prints, at
 * checkpoints, the heap used after a full GC and the v8-serialised state (a snapshot's size), for
 * today's fold and, first in the same process, for the fold that keeps every round's votes
 * (`evolveKeepingVotes`: the fold before bounded memory, which the audit's one-pass tools still use).
 * Run: npm run bench -w @ewx/consensus (last part), or `npx tsx bench/memory.bench.ts` in services/consensus.
 * Knobs: MEMORY_BENCH_ROUNDS (default 1000), MEMORY_BENCH_VOTES (1000), MEMORY_BENCH_BASELINE_ROUNDS (default = rounds; 0 = skip).
 */
import { encodePosition, generateKeyPair, signBytes, type EventData, type RecordedEvent } from '@ewx/platform';
import { loadAverage, memoryProbe } from '@ewx/platform/testing/memory';
import { attestationBytes, decide, evaluateRound, evolve, evolveKeepingVotes, initialConsensusState, roundKey, type ConsensusState } from '../src/domain/decider.js';

const R = Number(process.env.MEMORY_BENCH_ROUNDS ?? 1000);
const V = Number(process.env.MEMORY_BENCH_VOTES ?? 1000);
const BASELINE_R = Number(process.env.MEMORY_BENCH_BASELINE_ROUNDS ?? R);
const worker = (i: number): string => `ed25519:${'0'.repeat(56)}${(0x10000000 + i).toString(16)}`;
const operator = (i: number): string => `ed25519:${'f'.repeat(56)}${(0x10000000 + i).toString(16)}`;
const ev = (type: string, data: object): EventData => ({ type, data: data as never });
const validator = generateKeyPair();

type Fold = (s: ConsensusState, e: RecordedEvent) => ConsensusState;

function run(name: string, fold: Fold, rounds: number): Record<string, unknown> {
  let s = initialConsensusState();
  const probe = memoryProbe(name, () => s);
  let position = 0;
  const apply = (events: readonly EventData[]): void => {
    for (const e of events) s = fold(s, { type: e.type, data: JSON.parse(JSON.stringify(e.data)), streamId: 'x', version: 0, position: encodePosition([BigInt(++position)]) });
  };
  apply(decide({ type: 'ConfigureValidators', validators: [validator.address] }, s));
  const snapshot = Array.from({ length: V }, (_, i) => [worker(i), operator(i)]);
  const checkpoint = (done: number): void => probe.checkpoint({ rounds: done, votes: done * V });
  checkpoint(0);
  const marks = new Set([1, 10, 100, 1000, 10_000, 100_000, rounds]);
  for (let i = 0; i < rounds; i++) {
    const roundId = `slice-${i}`;
    const base = { solution: 's1', roundId };
    apply([
      ev('RoundStarted', { ...base, group: 'g1', starter: 'x', startBlock: 2 * i + 1, endBlock: 2 * i + 2, period: 0, quorumPercent: 50, voteThresholdPercent: 60, unresolvedPolicy: 'NONE', eligible: V, snapshotChunks: 1 }),
      ev('RoundSnapshot', { ...base, chunk: 0, chunks: 1, workers: snapshot }),
      ...Array.from({ length: V }, (_, w) => ev('VoteCast', { ...base, worker: worker(w), result: w % 3 === 2 ? 'bb' : 'aa', height: 2 * i + 1 })),
      ev('RoundClosed', { ...base, height: 2 * i + 2, submitted: V }),
    ]);
    const { tally, merkleRoot } = evaluateRound(s.rounds.get(roundKey('s1', roundId))!);
    const signature = signBytes(validator, attestationBytes('s1', roundId, tally, merkleRoot)).toString('hex');
    apply(decide({ type: 'Attest', validator: validator.address, ...base, tally, merkleRoot, signature }, s));
    if (s.rounds.get(roundKey('s1', roundId))!.status !== 'SETTLED') throw new Error(`round ${i} not settled`);
    if (marks.has(i + 1)) checkpoint(i + 1);
  }
  return { fold: name, rounds, votesPerRound: V, points: probe.points, perRoundAfterTheFirst: probe.perUnit('rounds') };
}

const loadBefore = loadAverage();
const baseline = BASELINE_R > 0 ? run('before (evolveKeepingVotes: every round keeps its votes)', evolveKeepingVotes, BASELINE_R) : undefined;
const now = run('now (a decided round drops its votes)', evolve, R);
console.log(JSON.stringify({ bench: 'consensus memory after R rounds × V votes (domain fold, in process)', loadAverage: { before: loadBefore, after: loadAverage() }, baseline, now }, null, 1));
