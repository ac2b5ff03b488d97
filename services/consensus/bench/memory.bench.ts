/**
 * Memory of consensus's decision state after R rounds of V votes each, in process (pure domain):
 * every round's events as consensus records them from voting (start, snapshot, V VoteCast, close),
 * then one validator's attestation, which settles it (with its chain entry and vote metadata).
 * Events go through JSON on their way to the fold, as a read from the store gives them. Prints, at
 * checkpoints, the heap used after a full GC and the v8-serialised state (a snapshot's size), for
 * today's fold and, first in the same process, for the fold that keeps every round's votes
 * (`evolveKeepingVotes`: the fold before bounded memory, which the audit's one-pass tools still use).
 * Run: npm run bench -w @ewx/consensus (last part), or `npx tsx bench/memory.bench.ts` in services/consensus.
 * Each round is followed by a block past its end (a decided round attested by its whole set leaves
 * the state then), and beside the state the probe holds the platform runtime's per-stream maps
 * (`versions`, `inboxSeen`, `inboxTypeSeen`, `typeVersions`) kept as runtime.ts keeps them: the
 * fold before (`evolveKeepingRounds`, which keeps every decided round's outcome, attestations and
 * chain entry) with every inbox stream's marks, against today's fold with a decided round's inbox
 * marks forgotten (`finishedInboxStreams`). MEMORY_BENCH_KEEPING_VOTES=1 adds the fold that keeps
 * every round's votes too (`evolveKeepingVotes`, the fold before bounded memory).
 * Since h/cflat2 the default baseline is the fold just before it (h/cflat): today's fold plus what
 * that state still kept per decided round that left — `archived` (solution → round id → [from, to])
 * and each result chain's `at` (the version of every entry) —, rebuilt beside today's state by the
 * same rules (`cflatFold` below); MEMORY_BENCH_KEEPING_ROUNDS=1 adds `evolveKeepingRounds` (the fold
 * before h/cflat, every decided round kept without its votes, inbox marks kept).
 * Knobs: MEMORY_BENCH_ROUNDS (default 1000), MEMORY_BENCH_VOTES (1000), MEMORY_BENCH_BASELINE_ROUNDS (default = rounds; 0 = skip).
 * MEMORY_BENCH_DOWN=1: a validator down instead — four validators, each round settled by three of
 * them, the fourth never attests; the baseline is the rule before the attestation window (the set
 * recorded without one: every round waits for the fourth), `now` the set recorded with a window of
 * MEMORY_BENCH_WINDOW blocks (default 100; two blocks per round, so the last 50 rounds stay).
 */
import { encodePosition, generateKeyPair, signBytes, type EventData, type RecordedEvent } from '@ewx/platform';
import { loadAverage, memoryProbe } from '@ewx/platform/testing/memory';
import {
  attestationBytes,
  CHAIN_STREAM,
  decide,
  evaluateRound,
  evolve,
  evolveKeepingRounds,
  evolveKeepingVotes,
  finishedInboxStreams,
  initialConsensusState,
  roundKey,
  solutionStream,
  votingRoundInbox,
  type ConsensusState,
} from '../src/domain/decider.js';

const R = Number(process.env.MEMORY_BENCH_ROUNDS ?? 1000);
const V = Number(process.env.MEMORY_BENCH_VOTES ?? 1000);
const BASELINE_R = Number(process.env.MEMORY_BENCH_BASELINE_ROUNDS ?? R);
const worker = (i: number): string => `ed25519:${'0'.repeat(56)}${(0x10000000 + i).toString(16)}`;
const operator = (i: number): string => `ed25519:${'f'.repeat(56)}${(0x10000000 + i).toString(16)}`;
const ev = (type: string, data: object): EventData => ({ type, data: data as never });
const validator = generateKeyPair();
const DOWN = process.env.MEMORY_BENCH_DOWN === '1';
const WINDOW = Number(process.env.MEMORY_BENCH_WINDOW ?? 100);
/** With a validator down: the set of four, of which the first three attest. */
const four = [validator, generateKeyPair(), generateKeyPair(), generateKeyPair()];
const signers = DOWN ? four.slice(0, 3) : [validator];

type Fold = (s: ConsensusState, e: RecordedEvent) => ConsensusState;

/**
 * The h/cflat fold's extra content, kept beside today's state: a round that leaves at a block goes
 * to `archived` with the versions of its first attestation and of its last attestation or decision
 * in its solution's stream (`attested`), and every ResultChained's version is pushed to its chain's `at`.
 */
function cflatFold(): { fold: Fold; kept: { archived: Map<string, Map<string, readonly [number, number]>>; at: Map<string, number[]> } } {
  const archived = new Map<string, Map<string, readonly [number, number]>>();
  const at = new Map<string, number[]>();
  const fold: Fold = (s, e) => {
    const block = e.type === 'BlockProduced' || e.type === 'BlocksProduced';
    const before = block ? [...s.rounds.values()].filter((r) => r.attested !== undefined) : [];
    evolve(s, e);
    for (const r of before) {
      if (s.rounds.has(roundKey(r.solution, r.roundId))) continue;
      const a = archived.get(r.solution) ?? new Map<string, readonly [number, number]>();
      archived.set(r.solution, a);
      a.set(r.roundId, r.attested!);
    }
    if (e.type === 'ResultChained') {
      const solution = (e.data as { solution: string }).solution;
      const c = at.get(solution) ?? [];
      at.set(solution, c);
      c.push(e.version);
    }
    return s;
  };
  return { fold, kept: { archived, at } };
}

function run(name: string, fold: Fold, rounds: number, forgets: boolean, beside: object = {}, attestationWindow?: number): Record<string, unknown> {
  let s = initialConsensusState();
  // The runtime's maps beside the state, as runtime.ts keeps them (a finished inbox stream forgotten for good).
  const versions = new Map<string, number>();
  const inboxSeen = new Map<string, number>();
  const inboxTypeSeen = new Map<string, number>();
  const typeVersions = new Map<string, number>();
  const inboxTypes = new Set<string>();
  const probe = memoryProbe(name, () => ({ state: s, versions, inboxSeen, inboxTypeSeen, typeVersions, beside }));
  let position = 0;
  const next = new Map<string, number>();
  const apply = (streamId: string, events: readonly EventData[]): void => {
    for (const e of events) {
      const version = next.get(streamId) ?? 0;
      next.set(streamId, version + 1);
      const inbox = streamId.startsWith('inbox:');
      const recorded: RecordedEvent = { type: e.type, data: JSON.parse(JSON.stringify(e.data)), streamId, version, position: encodePosition([BigInt(++position)]) };
      const forgotten = forgets && inbox && version > 0 && !versions.has(streamId);
      if (!forgotten) versions.set(streamId, version);
      if (inbox) {
        const key = `voting|${streamId.slice('inbox:voting:'.length)}`;
        if (!forgotten) {
          inboxSeen.set(key, version);
          inboxTypeSeen.set(`${key}|${e.type}`, version);
        }
        inboxTypes.add(e.type);
      } else typeVersions.set(`${streamId}|${e.type}`, version);
      s = fold(s, recorded);
      if (forgets)
        for (const id of finishedInboxStreams(s, recorded) ?? []) {
          const key = `voting|${id.slice('inbox:voting:'.length)}`;
          versions.delete(id);
          inboxSeen.delete(key);
          for (const t of inboxTypes) inboxTypeSeen.delete(`${key}|${t}`);
        }
    }
  };
  const set = (DOWN ? four : [validator]).map((k) => k.address);
  apply('validators', decide({ type: 'ConfigureValidators', validators: set, ...(attestationWindow === undefined ? {} : { attestationWindow }) }, s));
  const snapshot = Array.from({ length: V }, (_, i) => [worker(i), operator(i)]);
  const checkpoint = (done: number): void => probe.checkpoint({ rounds: done, votes: done * V });
  checkpoint(0);
  const marks = new Set([1, 10, 100, 1000, 10_000, 100_000, rounds]);
  for (let i = 0; i < rounds; i++) {
    const roundId = `slice-${i}`;
    const base = { solution: 's1', roundId };
    apply(votingRoundInbox('s1', roundId), [
      ev('RoundStarted', { ...base, group: 'g1', starter: 'x', startBlock: 2 * i + 1, endBlock: 2 * i + 2, period: 0, quorumPercent: 50, voteThresholdPercent: 60, unresolvedPolicy: 'NONE', eligible: V, snapshotChunks: 1 }),
      ev('RoundSnapshot', { ...base, chunk: 0, chunks: 1, workers: snapshot }),
      ...Array.from({ length: V }, (_, w) => ev('VoteCast', { ...base, worker: worker(w), result: w % 3 === 2 ? 'bb' : 'aa', height: 2 * i + 1 })),
      ev('RoundClosed', { ...base, height: 2 * i + 2, submitted: V }),
    ]);
    const { tally, merkleRoot } = evaluateRound(s.rounds.get(roundKey('s1', roundId))!);
    for (const k of signers) {
      const signature = signBytes(k, attestationBytes('s1', roundId, tally, merkleRoot)).toString('hex');
      apply(solutionStream('s1'), decide({ type: 'Attest', validator: k.address, ...base, tally, merkleRoot, signature }, s));
    }
    if (s.rounds.get(roundKey('s1', roundId))!.status !== 'SETTLED') throw new Error(`round ${i} not settled`);
    apply(CHAIN_STREAM, decide({ type: 'ProduceNextBlock', after: s.height, to: 2 * i + 2 }, s));
    if (marks.has(i + 1)) checkpoint(i + 1);
  }
  return { fold: name, rounds, votesPerRound: V, points: probe.points, perRoundAfterTheFirst: probe.perUnit('rounds') };
}

const loadBefore = loadAverage();
const votes = process.env.MEMORY_BENCH_KEEPING_VOTES === '1' ? run('evolveKeepingVotes: every round keeps its votes, maps kept', evolveKeepingVotes, BASELINE_R, false) : undefined;
const keepingRounds =
  process.env.MEMORY_BENCH_KEEPING_ROUNDS === '1'
    ? run('evolveKeepingRounds: decided rounds kept without votes, inbox marks kept (before h/cflat)', evolveKeepingRounds, BASELINE_R, false)
    : undefined;
const cflat = cflatFold();
const baseline = !(BASELINE_R > 0)
  ? undefined
  : DOWN
    ? run('before (one validator of 4 down, no attestation window: every round decided stays until the fourth attests)', evolve, BASELINE_R, true)
    : run('before (h/cflat: decided rounds leave for `archived`, chains keep `at`)', cflat.fold, BASELINE_R, true, cflat.kept);
const now = DOWN
  ? run(`now (one validator of 4 down, attestation window ${WINDOW} blocks: a round leaves at its close)`, evolve, R, true, {}, WINDOW)
  : run('now (h/cflat2: a decided round that left leaves nothing in the state)', evolve, R, true);
const cflatAgain = cflatFold();
const again = BASELINE_R > 0 && process.env.MEMORY_BENCH_AGAIN === '1' ? run('before again (h/cflat), after now', cflatAgain.fold, BASELINE_R, true, cflatAgain.kept) : undefined;
console.log(
  JSON.stringify(
    { bench: 'consensus memory after R rounds × V votes (domain fold + runtime maps, in process)', loadAverage: { before: loadBefore, after: loadAverage() }, votes, keepingRounds, baseline, now, again },
    null,
    1,
  ),
);
