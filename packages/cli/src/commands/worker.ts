import { Command } from 'commander';
import { signVote } from '@ewx/client';
import { contextOf, withEwx } from '../context.js';
import { formatTokens, parseHex } from '../parse.js';
import { keyOption } from './admin.js';

export function workerCommand(): Command {
  const worker = new Command('worker').description('worker account: votes; which operator a worker serves');
  worker
    .command('show <worker>')
    .description("the operator a worker (an address or key name) is connected to, and that operator's subscriptions")
    .addHelpText(
      'after',
      '\nExits 0 also when the worker is connected to no operator (connected: false); the operator links it with `ewx operator connect-worker`.',
    )
    .action(async function (this: Command, w: string) {
      const ctx = contextOf(this);
      const address = ctx.account('worker', w);
      const r = await withEwx(ctx, undefined, (ewx) => ewx.registry.getWorker({ address }));
      ctx.print(
        r,
        r.connected
          ? {
              worker: r.address,
              operator: r.operator,
              subscriptions:
                r.subscriptions.length === 0
                  ? 'none'
                  : r.subscriptions.map(
                      (s) =>
                        `${s.group}: ${formatTokens(s.stake)} from period ${s.activeFromPeriod}${s.unsubscribing ? `, leaving after period ${s.finalPeriod}` : ''}`,
                    ),
            }
          : `worker ${r.address} is not connected to an operator (the operator links it with \`ewx operator connect-worker\`)`,
      );
    });
  keyOption(worker.command('vote <solution> <round-id> <result-hex>'), 'worker')
    .description('vote <result-hex> (1..64 bytes) in a round; the same vote again is accepted and changes nothing')
    .action(async function (this: Command, solution: string, roundId: string, resultHex: string, o: { key: string }) {
      const ctx = contextOf(this);
      const result = parseHex('result-hex', resultHex, 64);
      const signer = ctx.signer(o.key);
      const res = await withEwx(ctx, signer, async (ewx) => ewx.voting.submitVote(await signVote(signer, { solution, roundId, result })));
      ctx.print(
        { worker: signer.address, solution, roundId, result: result.toString('hex'), ...res },
        res.accepted
          ? `vote ${result.toString('hex')} recorded for round ${roundId} of ${solution}`
          : `the same vote was already recorded for round ${roundId} of ${solution}`,
      );
    });
  return worker;
}
