import { Command } from 'commander';
import { RoundState, type Round } from '@ewx/proto/voting';
import { contextOf, withEwx } from '../context.js';
import { keyOption } from './admin.js';

export const STATE_NAMES: Record<number, string> = {
  [RoundState.ROUND_STATE_ACTIVE]: 'ACTIVE', [RoundState.ROUND_STATE_OFF_CHAIN_VOTE]: 'OFF_CHAIN_VOTE',
  [RoundState.ROUND_STATE_SETTLED]: 'SETTLED', [RoundState.ROUND_STATE_UNRESOLVED]: 'UNRESOLVED',
};

/** A round for people and for --json: the state by name, the result as hex. */
export const roundView = (r: Round): Record<string, unknown> => ({
  solution: r.solution, roundId: r.roundId, group: r.group, state: STATE_NAMES[r.state] ?? String(r.state), starter: r.starter,
  startBlock: r.startBlock, endBlock: r.endBlock, period: r.period, eligible: r.eligible,
  submitted: r.tally?.submitted ?? '', top: r.tally?.top ?? '', result: Buffer.from(r.result).toString('hex'),
  unresolvedReason: r.unresolvedReason, merkleRoot: r.merkleRoot, retryOf: r.retryOf,
});

export function roundCommand(): Command {
  const round = new Command('round').description('voting rounds');
  keyOption(round.command('start <solution> <round-id>'), 'registrar')
    .description('start a round (the solution\'s registrar; or an eligible worker for WORKER-started solutions); the eligibility snapshot is taken now')
    .action(async function (this: Command, solution: string, roundId: string, o: { key: string }) {
      const ctx = contextOf(this);
      const signer = ctx.signer(o.key);
      const r = await withEwx(ctx, signer, (ewx) => ewx.voting.startRound({ solution, roundId }));
      const v = roundView(r);
      ctx.print(v, `round ${roundId} of ${solution} started at block ${r.startBlock}: ${r.eligible} eligible worker(s), votes until block ${r.endBlock}`);
    });

  round.command('show <solution> <round-id>').description('a round: state, tally, result')
    .action(async function (this: Command, solution: string, roundId: string) {
      const ctx = contextOf(this);
      const r = await withEwx(ctx, undefined, (ewx) => ewx.voting.getRound({ solution, roundId }));
      const v = roundView(r);
      ctx.print(v, v);
    });
  return round;
}
