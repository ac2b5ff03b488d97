/**
 * Memory of voting's decision state after R rounds of V votes each, in process (pure domain: the
 * rules and the fold, no store): every round is started, gets V votes (one batch), closes at its end
 * block and is settled, as in the service (its events in its own stream, the settlement in
 * consensus's solution stream in voting's inbox, where the service records it). Events go through
 * JSON on their way to the fold, as a read from the store gives them. Prints, at checkpoints, the
 * heap used after a full GC and the size of the state serialised as a snapshot stores it (node:v8),
 * for the fold of today and, run first in the same process, for the fold before bounded memory
 * (bench/reference-evolve.ts, commit 21fbf08) and the fold whose closed rounds kept their summary in
 * the state (bench/reference-flatrounds-evolve.ts, commit 51fa2e0; the fold before it, whose closed
 * rounds kept two empty Maps each, is in commit 51fa2e0 as bench/reference-summary-evolve.ts), and
 * the fold whose finished rounds left the state but kept an entry in their solution's index
 * (bench/reference-index-evolve.ts, commit faf4098). The reference folds are decided on by today's
 * rules over their state (the rules read no round that left it: every round here is new).
 * Run: npm run bench -w @ewx/voting (last part), or `npx tsx bench/memory.bench.ts` in services/voting.
 * Knobs: MEMORY_BENCH_ROUNDS (default 1000), MEMORY_BENCH_VOTES (1000), MEMORY_BENCH_BASELINE_ROUNDS,
 * MEMORY_BENCH_FLATROUNDS_ROUNDS (default = rounds; 0 = skip), MEMORY_BENCH_INDEX_ROUNDS (default = rounds; 0 = skip);
 * MEMORY_BENCH_RUNTIME_MAPS=1 adds two runs of today's fold that also keep the maps the platform
 * runtime keeps per stream beside the state (`versions`, `typeVersions`, `inboxSeen`,
 * `inboxTypeSeen` in packages/platform/src/runtime.ts, in every snapshot): as it kept them before
 * (every stream ever written), and as it keeps them now (a finished round's stream forgotten:
 * `finishedStreams`).
 */
import { encodePosition, type EventData, type RecordedEvent, type RoundSettledEvent } from '@ewx/platform';
import { loadAverage, memoryProbe } from '@ewx/platform/testing/memory';
import {
  closeRound,
  decideVotes,
  evolve,
  finishedStreams,
  initialVotingState,
  roundStream,
  settlementStream,
  startRound,
  type VoteCommand,
  type VotingState,
} from '../src/domain/decider.js';
import { REGISTRAR, ev, solutionConfig, worker } from '../src/domain/testing.js';
import { evolve as referenceEvolve } from './reference-evolve.js';
import { evolve as flatroundsEvolve } from './reference-flatrounds-evolve.js';
import { evolve as indexEvolve } from './reference-index-evolve.js';
import { initialVotingState as initialIndexState } from './reference-index-state.js';
import { initialVotingState as initialReferenceState, type VotingState as ReferenceState } from './reference-state.js';

const R = Number(process.env.MEMORY_BENCH_ROUNDS ?? 1000);
const V = Number(process.env.MEMORY_BENCH_VOTES ?? 1000);
const BASELINE_R = Number(process.env.MEMORY_BENCH_BASELINE_ROUNDS ?? R);

type Fold = (s: VotingState, e: RecordedEvent) => VotingState;
/** A reference fold: its own state, decided on by today's rules over a view without the index it lacks. */
const reference =
  (f: (s: ReferenceState, e: RecordedEvent) => ReferenceState): Fold =>
  (s, e) =>
    f(s as unknown as ReferenceState, e) as unknown as VotingState;
const indexFold: Fold = (s, e) => indexEvolve(s as never, e) as unknown as VotingState;
const initialOf = (fold: Fold): VotingState =>
  fold === evolve
    ? initialVotingState()
    : fold === indexFold
      ? (initialIndexState() as unknown as VotingState)
      : (initialReferenceState() as unknown as VotingState);
const viewOf = (_fold: Fold, s: VotingState): VotingState => s;

function run(name: string, fold: Fold, rounds: number, runtimeMaps?: 'every stream' | 'forgetting'): Record<string, unknown> {
  let s = initialOf(fold);
  /** As packages/platform/src/runtime.ts keeps them (`apply`), when asked. */
  const maps = runtimeMaps
    ? { versions: new Map<string, number>(), typeVersions: new Map<string, number>(), inboxSeen: new Map<string, number>(), inboxTypeSeen: new Map<string, number>() }
    : undefined;
  const probe = memoryProbe(name, () => (maps ? { state: s, ...maps } : s));
  let position = 0;
  const versions = new Map<string, number>();
  // Through JSON, as the store gives events back: no string is shared with the decision that wrote it.
  const apply = (events: readonly EventData[], streamId = 'x'): void => {
    for (const e of events) {
      const version = (versions.get(streamId) ?? -1) + 1;
      versions.set(streamId, version);
      s = fold(s, { type: e.type, data: JSON.parse(JSON.stringify(e.data)), streamId, version, position: encodePosition([BigInt(++position)]) });
      if (maps) {
        maps.versions.set(streamId, version);
        if (streamId.startsWith('inbox:')) {
          const source = streamId.slice('inbox:'.length).replace(':', '|');
          maps.inboxSeen.set(source, version);
          maps.inboxTypeSeen.set(`${source}|${e.type}`, version);
        } else maps.typeVersions.set(`${streamId}|${e.type}`, version);
        if (runtimeMaps === 'forgetting')
          for (const id of finishedStreams(s, { ...e, streamId, version, position: encodePosition([BigInt(position)]) }) ?? []) {
            maps.versions.delete(id);
            for (const t of ['RoundStarted', 'RoundSnapshot', 'VoteCast', 'VotesCast', 'RoundClosed', 'RoundAlert']) maps.typeVersions.delete(`${id}|${t}`);
          }
      }
    }
  };
  apply([
    ev('RewardPeriodScheduleChanged', { fromPeriod: 0, firstBlock: 1, length: 1_000_000_000 }),
    ev('GroupRegistered', { group: 'g1', owner: REGISTRAR, config: {}, budget: '0', height: 1 }),
    ev('SolutionRegistered', { solution: 's1', owner: REGISTRAR, config: solutionConfig({ maxWaitingThreshold: 1, expirationBlock: 1_000_000_000 }), height: 1 }),
    ...Array.from({ length: V }, (_, i) => [
      ev('OperatorSubscribed', { group: 'g1', operator: `op-${i}`, stake: '1000', activeFromPeriod: 0, height: 1 }),
      ev('WorkerConnected', { operator: `op-${i}`, worker: worker(i), height: 1 }),
    ]).flat(),
  ]);
  const noNonce = (): bigint => 0n;
  const checkpoint = (done: number): void => probe.checkpoint({ rounds: done, votes: done * V });
  checkpoint(0);
  const marks = new Set([1, 10, 100, 1000, 10_000, 100_000, rounds]);
  for (let i = 0; i < rounds; i++) {
    const h = 10 + 2 * i;
    const id = `slice-${i}`;
    apply([ev('BlockProduced', { height: h })]);
    apply(startRound(viewOf(fold, s), 's1', id, { kind: 'account', address: REGISTRAR }).events, roundStream('s1', id));
    const votes: VoteCommand[] = Array.from({ length: V }, (_, w) => ({ solution: 's1', roundId: id, worker: worker(w), result: w % 3 === 2 ? 'bb' : 'aa', nonce: BigInt(i + 1) }));
    const decided = decideVotes(viewOf(fold, s), votes, noNonce);
    if (decided.outcomes.some((o) => o !== 'accepted')) throw new Error(`round ${i}: a vote was refused`);
    apply(decided.events, roundStream('s1', id));
    apply([ev('BlockProduced', { height: h + 1 })]);
    apply(closeRound(viewOf(fold, s), 's1', id), roundStream('s1', id));
    const top = V - Math.floor(V / 3);
    const settled: RoundSettledEvent = {
      solution: 's1', roundId: id, group: 'g1', rewardPeriod: 0, result: 'aa', tally: { eligible: V, submitted: V, top, outcome: 'SETTLED', result: 'aa' },
      merkleRoot: 'ab'.repeat(32), attestors: ['v'], dissenters: [], validators: ['v'],
    };
    // The bench's own record of the round's stream version would grow the heap per round: dropped once the stream is complete.
    versions.delete(roundStream('s1', id));
    apply([ev('RoundSettled', settled)], settlementStream('s1'));
    if (marks.has(i + 1)) checkpoint(i + 1);
  }
  return { fold: name, rounds, votesPerRound: V, points: probe.points, perRoundAfterTheFirst: probe.perUnit('rounds') };
}

const loadBefore = loadAverage();
const baseline = BASELINE_R > 0 ? run('before (reference-evolve, keeps every round)', reference(referenceEvolve), BASELINE_R) : undefined;
const FLAT_R = Number(process.env.MEMORY_BENCH_FLATROUNDS_ROUNDS ?? R);
const flatrounds =
  FLAT_R > 0 ? run('flatrounds (reference-flatrounds-evolve, a closed round keeps its summary, its snapshot and votes the shared empty map)', reference(flatroundsEvolve), FLAT_R) : undefined;
const INDEX_R = Number(process.env.MEMORY_BENCH_INDEX_ROUNDS ?? R);
const index = INDEX_R > 0 ? run('index (reference-index-evolve: a finished round leaves the state, its id and four numbers stay in its solution index)', indexFold, INDEX_R) : undefined;
const loadBetween = loadAverage();
const now = run('now (a finished round leaves no trace in the state: flat)', evolve, R);
// Alternated: the index fold again after today's, in the same process.
const indexAgain = INDEX_R > 0 && process.env.MEMORY_BENCH_ALTERNATE === '1' ? run('index, again after now', indexFold, INDEX_R) : undefined;
const MAPS = process.env.MEMORY_BENCH_RUNTIME_MAPS === '1';
const withRuntimeMapsBefore = MAPS ? run("now + the runtime's per-stream maps as kept before (every stream)", evolve, R, 'every stream') : undefined;
const withRuntimeMaps = MAPS ? run("now + the runtime's per-stream maps, finished rounds' streams forgotten", evolve, R, 'forgetting') : undefined;
console.log(
  JSON.stringify(
    {
      bench: 'voting memory after R rounds × V votes (domain fold, in process)',
      loadAverage: { before: loadBefore, beforeNow: loadBetween, after: loadAverage() },
      baseline,
      flatrounds,
      index,
      now,
      indexAgain,
      withRuntimeMapsBefore,
      withRuntimeMaps,
    },
    null,
    1,
  ),
);
