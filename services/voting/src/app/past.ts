import { decodeVotingLog } from '@ewx/contracts';
import { unavailable, type Auth, type EventData, type EventStore, type RecordedEvent, type Runtime } from '@ewx/platform';
import { roundKey, roundStream, type PastRound, type PastRounds, type VotingState } from '../domain/decider.js';

/** Rounds that left the state whose `RoundStarted` was read, kept (a stream's first event never changes): ≈ 100 B each. */
export const KEPT_PAST = 10_000;

export interface PastRoundReader {
  /** The log's record of a round id (its stream's `RoundStarted`), or undefined: never started. */
  read(solution: string, roundId: string): Promise<PastRound | undefined>;
}

/**
 * The log's record of a round that is not in the state (`PastRound`): the first event of its stream,
 * `readStream(roundStream, 0, 1)`, one indexed read. Only what the log says is kept (the last
 * `kept` rounds read): an id not started yet may be started at any moment, so "never started" is
 * read again each time.
 */
export function pastRounds(store: EventStore, kept = KEPT_PAST): PastRoundReader {
  const known = new Map<string, PastRound>();
  return {
    async read(solution, roundId) {
      const key = roundKey(solution, roundId);
      const hit = known.get(key);
      if (hit) {
        known.delete(key);
        known.set(key, hit);
        return hit;
      }
      const [first] = await store.readStream(roundStream(solution, roundId), 0, 1);
      if (!first) return undefined;
      const ev = decodeVotingLog(first);
      if (ev?.type !== 'RoundStarted' || ev.data.solution !== solution || ev.data.roundId !== roundId) {
        throw new Error(
          `round ${roundId} of solution ${solution}: the first event of ${roundStream(solution, roundId)} is ${first.type}, not its RoundStarted`,
        );
      }
      const past: PastRound = { endBlock: ev.data.endBlock };
      known.set(key, past);
      if (known.size > Math.max(1, kept)) known.delete(known.keys().next().value!);
      return past;
    },
  };
}

/** A decision taken without the log's record of a round that is no longer in the state: read it again. */
class StaleRound extends Error {}

/** Attempts at reading a round's record again before giving up (each one needs the round to finish in between). */
const MAX_READS = 5;

/**
 * `runtime.execute` on a round's stream of a decision that needs the log's record of the round if
 * it is not in the state (a start, a worker's first vote, a late vote: `decide` gets it as `past`).
 * The record is read before deciding, outside the runtime's lock, so it can be out of date by the
 * time `decide` runs; each way is caught:
 * - the round left the state in between (it was in it, so nothing was read): decided again after
 *   reading its record;
 * - the round was started (and finished) in between, read as "never started": the decision starts
 *   it again, but its stream exists and the append expects none (a round's stream is forgotten by
 *   the runtime once the round leaves the state, `finishedStreams`): the store refuses it and the
 *   runtime decides again — here the record is read again and the decision taken on it (never an
 *   append after the existing stream).
 * So a used round id is refused from the log, the store's "no stream" check guarding the race.
 */
export async function executeOnRound(
  runtime: Runtime<VotingState>,
  past: PastRoundReader,
  solution: string,
  roundId: string,
  decide: (s: VotingState, past: PastRounds) => readonly EventData[],
  auth?: Auth,
): Promise<RecordedEvent[]> {
  const key = roundKey(solution, roundId);
  for (let attempt = 0; ; attempt++) {
    const inState = runtime.state().rounds.has(key);
    const record = inState ? undefined : await past.read(solution, roundId);
    const known: PastRounds = (s, r) => (s === solution && r === roundId ? record : undefined);
    let calls = 0;
    try {
      return await runtime.execute(
        roundStream(solution, roundId),
        (s) => {
          if (record === undefined && !s.rounds.has(key) && (inState || calls > 0)) throw new StaleRound();
          calls++;
          return decide(s, known);
        },
        auth,
      );
    } catch (e) {
      if (!(e instanceof StaleRound)) throw e;
      if (attempt >= MAX_READS) throw unavailable(`round_id: round ${roundId} of solution ${solution} changed while it was decided on; try again`);
    }
  }
}
