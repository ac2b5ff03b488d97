import { resolve } from 'node:path';
import { consensusDecider } from '@ewx/consensus';
import { foldVoteMetadata, type VoteCounts } from '@ewx/consensus/domain/decider';
import { distanceDecider } from '@ewx/distance';
import type { Decider } from '@ewx/platform';
import { REPO_ROOT } from '@ewx/platform/testing';
import { registryDecider } from '@ewx/registry';
import { rewardsDecider } from '@ewx/rewards/domain/decider';
import { asRecorded, type LogEvent, type ServiceName } from '../types.js';

/** A log of the embedded system recorded before the code was reshaped (tools/record-log.ts). */
export const RECORDED_LOG = resolve(REPO_ROOT, 'packages/audit/fixtures/recorded-log.jsonl');
/** What the services' deciders made of it then (`recordedDecisions`), written beside it. */
export const RECORDED_DECISIONS = resolve(REPO_ROOT, 'packages/audit/fixtures/recorded-log.decisions.json');

function fold<S>(decider: Decider<S>, log: readonly LogEvent[] | undefined): S {
  const s = decider.initialState();
  for (const e of log ?? []) decider.evolve(s, asRecorded(e));
  return s;
}

/**
 * A solution's result chain: its entries are in the log (the ResultChained events of its stream; the
 * state keeps its length and last hash, which must agree with them).
 */
function chainOf(
  log: readonly LogEvent[] | undefined,
  solution: string,
  c: { length: number; hash: string },
): { roundId: string; result: string; hash: string }[] {
  const entries = (log ?? [])
    .filter((e) => e.type === 'ResultChained' && (e.data as { solution?: string }).solution === solution)
    .map((e) => e.data as { roundId: string; result: string; hash: string })
    .map((x) => ({ roundId: x.roundId, result: x.result, hash: x.hash }));
  if (entries.length !== c.length || entries.at(-1)?.hash !== c.hash)
    throw new Error(`chain of ${solution}: the state's length and last hash disagree with the log`);
  return entries;
}

/** Per-operator vote counts per `group|period`: folded from the log's VoteMetadata events (the state does not keep them; consensus's projection folds the same). */
function voteCountsOf(log: readonly LogEvent[] | undefined): VoteCounts {
  const counts: VoteCounts = new Map();
  for (const e of log ?? []) foldVoteMetadata(counts, asRecorded(e));
  return counts;
}

const sorted = <V>(entries: Iterable<[string | number, V]>): Record<string, V> =>
  Object.fromEntries([...entries].map(([k, v]) => [String(k), v] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const amounts = (m: Map<string, Map<string, bigint>>): Record<string, Record<string, string>> =>
  sorted([...m].map(([k, v]) => [k, sorted([...v].map(([g, a]) => [g, a.toString()]))]));

/**
 * The decisions a replay of the logs reaches, as plain JSON: every account's balances and every
 * hold (registry), the result chains and per-operator vote counts (consensus), the rewards earned
 * and claimed (rewards), and the identities found valid with their medians (distance). Only
 * decisions, never the shape of the state, so a reshaped state gives the same JSON.
 */
export function recordedDecisions(logs: Partial<Record<ServiceName, readonly LogEvent[]>>): unknown {
  const registry = fold(registryDecider, logs.registry);
  const consensus = fold(consensusDecider, logs.consensus);
  const rewards = fold(rewardsDecider, logs.rewards);
  const distance = fold(distanceDecider, logs.distance);
  return {
    balances: sorted(
      [...registry.ledger.accounts].map(([a, b]) => [a, { free: b.free.toString(), reserved: b.reserved.toString(), unclaimed: b.unclaimed.toString() }]),
    ),
    holds: sorted([...registry.holds].map(([id, h]) => [id, { account: h.account, amount: h.amount.toString(), status: h.status }])),
    chains: sorted([...consensus.chains].map(([s, c]) => [s, chainOf(logs.consensus, s, c)])),
    voteCounts: sorted(
      [...voteCountsOf(logs.consensus)].map(([k, m]) => [k, sorted([...m].map(([op, c]) => [op, { eligible: c.eligible, correct: c.correct }]))]),
    ),
    unclaimed: amounts(registry.ledger.unclaimed),
    totals: { deposits: registry.ledger.deposits.toString(), withdrawals: registry.ledger.withdrawals.toString() },
    earned: amounts(rewards.earned),
    claimed: amounts(rewards.claimed),
    validUntil: sorted(distance.validUntil),
    medians: sorted(distance.lastMedian),
  };
}
