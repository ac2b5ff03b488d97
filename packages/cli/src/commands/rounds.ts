import { Command } from 'commander';
import { rewardPeriodOf, settlementStateOf, statusName, tallyOutcomeOf, tallyReasonOf, TallyOutcome, unresolvedReasonOf, UnresolvedReason } from '@ewx/client';
import type { Settlement } from '@ewx/proto/consensus';
import { RoundState, type Round } from '@ewx/proto/voting';
import { contextOf, withEwx } from '../context.js';
import { keyOption } from './admin.js';

export const STATE_NAMES: Record<number, string> = {
  [RoundState.ROUND_STATE_ACTIVE]: 'ACTIVE',
  [RoundState.ROUND_STATE_OFF_CHAIN_VOTE]: 'OFF_CHAIN_VOTE',
  [RoundState.ROUND_STATE_SETTLED]: 'SETTLED',
  [RoundState.ROUND_STATE_UNRESOLVED]: 'UNRESOLVED',
};

/** A round for people and for --json: the state by name, the result as hex. */
export const roundView = (r: Round): Record<string, unknown> => ({
  solution: r.solution,
  roundId: r.roundId,
  group: r.group,
  state: STATE_NAMES[r.state] ?? String(r.state),
  starter: r.starter,
  startBlock: r.startBlock,
  endBlock: r.endBlock,
  period: rewardPeriodOf(r),
  eligible: r.eligible,
  submitted: r.tally?.submitted ?? '',
  top: r.tally?.top ?? '',
  result: Buffer.from(r.result).toString('hex'),
  unresolvedReason: statusName(UnresolvedReason, unresolvedReasonOf(r)),
  merkleRoot: r.merkleRoot,
  retryOf: r.retryOf,
});

/** Consensus's settlement of a round for people and for --json: the enums by name. */
export const settlementView = (s: Settlement): Record<string, unknown> => ({
  state: statusName(RoundState, settlementStateOf(s)),
  outcome: s.tally ? statusName(TallyOutcome, tallyOutcomeOf(s.tally)) : '',
  reason: s.tally ? statusName(UnresolvedReason, tallyReasonOf(s.tally)) : '',
  eligible: s.tally?.eligible ?? '',
  submitted: s.tally?.submitted ?? '',
  top: s.tally?.top ?? '',
  result: s.tally ? Buffer.from(s.tally.result).toString('hex') : '',
  merkleRoot: s.merkleRoot,
  attestations: `${s.attestations.length} of ${s.validators.length}`,
  dissents: s.attestations.filter((a) => a.dissent).map((a) => a.validator),
});

export function roundCommand(): Command {
  const round = new Command('round').description('voting rounds');
  keyOption(round.command('start <solution> <round-id>'), 'registrar')
    .description("start a round (the solution's registrar; or an eligible worker for WORKER-started solutions); the eligibility snapshot is taken now")
    .action(async function (this: Command, solution: string, roundId: string, o: { key: string }) {
      const ctx = contextOf(this);
      const signer = ctx.signer(o.key);
      const r = await withEwx(ctx, signer, (ewx) => ewx.voting.startRound({ solution, roundId }));
      const v = roundView(r);
      ctx.print(v, `round ${roundId} of ${solution} started at block ${r.startBlock}: ${r.eligible} eligible worker(s), votes until block ${r.endBlock}`);
    });

  round
    .command('show <solution> <round-id>')
    .description('a round: state, tally, result')
    .action(async function (this: Command, solution: string, roundId: string) {
      const ctx = contextOf(this);
      const r = await withEwx(ctx, undefined, (ewx) => ewx.voting.getRound({ solution, roundId }));
      const v = roundView(r);
      ctx.print(v, v);
    });

  round
    .command('settlement <solution> <round-id>')
    .description("consensus's settlement of a round: state, tally outcome and reason, attestations")
    .action(async function (this: Command, solution: string, roundId: string) {
      const ctx = contextOf(this);
      const s = await withEwx(ctx, undefined, (ewx) => ewx.consensus.getSettlement({ solution, roundId }));
      const v = { solution, roundId, ...settlementView(s) };
      ctx.print(v, v);
    });
  return round;
}
