import { consensusDecider } from '@ewx/consensus';
import { evolveKeepingVotes, merkleProof, type ConsensusState } from '@ewx/consensus/domain/decider';
import { inputsFromLog, type RewardInputsRecordedEvent, type RewardsDecidedEvent } from '@ewx/rewards/domain/events';
import { decodeRewardsLog, type RewardsComputedEvent } from '@ewx/contracts';
import type { LogSource } from '../source.js';
import { asRecorded } from '../types.js';
import { BUNDLE_FORMAT, type Bundle, type BundleRound } from './verify.js';

/**
 * One operator's audit bundle for one reward period of one group, from the logs: each settled
 * round of the period whose snapshot held the operator's worker (its vote and inclusion proof,
 * the attestations, the result chain entry), the counts, the SLA test, and every input and
 * output of the period's reward decision. `verify.ts` checks it with nothing else.
 */
export async function makeBundle(source: LogSource, operator: string, period: number, group?: string): Promise<Bundle> {
  const present = await source.services();
  for (const s of ['consensus', 'rewards'] as const) if (!present.includes(s)) throw new Error(`${source.description}: no ${s} log`);
  const decisions = new Map<string, { decided?: RewardsDecidedEvent; chunks: RewardInputsRecordedEvent[]; computed: RewardsComputedEvent[] }>();
  for await (const b of source.read('rewards')) {
    for (const e of b) {
      if (e.streamId.startsWith('inbox:')) continue;
      const ev = decodeRewardsLog(e);
      if (ev?.type !== 'RewardsDecided' && ev?.type !== 'RewardInputsRecorded' && ev?.type !== 'RewardsComputed') continue;
      const d = ev.data;
      if (d.rewardPeriod !== period || (group !== undefined && d.group !== group)) continue;
      const x = decisions.get(d.group) ?? { chunks: [], computed: [] };
      if (ev.type === 'RewardsDecided') x.decided = ev.data;
      else if (ev.type === 'RewardInputsRecorded') x.chunks.push(ev.data);
      else x.computed.push(ev.data);
      decisions.set(d.group, x);
    }
  }
  const mine = [...decisions].filter(([, x]) => x.decided && x.chunks.some((c) => c.operators.some((o) => o.operator === operator)));
  if (mine.length === 0) throw new Error(`no closed reward period ${period}${group ? ` of group ${group}` : ''} with operator ${operator} in its inputs`);
  if (mine.length > 1)
    throw new Error(`operator ${operator} is in period ${period} of several groups (${mine.map(([g]) => g).join(', ')}): name one with --group`);
  const [g, x] = mine[0]!;
  const inputs = inputsFromLog(x.decided!, x.chunks);
  const payout = x.computed.flatMap((c) => c.payouts).find((p) => p.operator === operator);

  const s: ConsensusState = consensusDecider.initialState();
  for await (const b of source.read('consensus')) for (const e of b) evolveKeepingVotes(s, asRecorded(e));
  const rounds: BundleRound[] = [];
  for (const r of s.rounds.values()) {
    if (r.group !== g || r.period !== period || r.status !== 'SETTLED' || !r.outcome) continue;
    const worker = [...r.snapshot].find(([, op]) => op === operator)?.[0];
    if (worker === undefined) continue;
    const index = r.votes.findIndex(([w]) => w === worker);
    const entry = s.chains.get(r.solution)?.entries?.find((c) => c.roundId === r.roundId);
    rounds.push({
      solution: r.solution,
      roundId: r.roundId,
      worker,
      vote: index < 0 ? null : r.votes[index]![1],
      ...(index < 0 ? {} : { proof: merkleProof(r.leaves, index).map((p) => ({ position: p.position, group: [...p.group] })) }),
      merkleRoot: r.outcome.merkleRoot,
      tally: { ...r.outcome.tally },
      attestations: [...r.attestations.values()].map((a) => ({
        validator: a.validator,
        tally: { ...a.tally },
        merkleRoot: a.merkleRoot,
        signature: a.signature,
      })),
      validators: [...(r.decidedBy ?? [])],
      chain: { index: entry?.index ?? -1, prevHash: entry?.prevHash ?? '', hash: entry?.hash ?? '' },
    });
  }
  rounds.sort((a, b) => (a.solution < b.solution ? -1 : a.solution > b.solution ? 1 : a.roundId < b.roundId ? -1 : 1));
  const correct = rounds.filter((r) => r.vote !== null && r.vote === r.tally.result).length;
  const sla = inputs.config.slaVotingThreshold;
  return {
    format: BUNDLE_FORMAT,
    operator,
    group: g,
    period,
    source: source.description,
    rounds,
    counts: { eligible: rounds.length, correct },
    sla: { threshold: sla, met: rounds.length > 0 && correct * 100 >= sla * rounds.length },
    reward: {
      inputs: {
        firstBlock: inputs.firstBlock,
        lastBlock: inputs.lastBlock,
        budget: inputs.budget,
        config: { ...inputs.config },
        operators: inputs.operators.map((o) => ({
          operator: o.operator,
          stake: o.stake,
          eligible: o.eligibleRounds,
          correct: o.correctVotes,
          inFinalPeriod: o.inFinalPeriod,
        })),
      },
      outcome: { ...x.decided!.outcome },
      payout: { base: payout?.base ?? '0', active: payout?.active ?? '0', amount: payout?.amount ?? '0' },
    },
  };
}
