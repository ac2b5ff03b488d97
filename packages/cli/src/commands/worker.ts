import { Command } from 'commander';
import { signVote } from '@ewx/client';
import { contextOf, withEwx } from '../context.js';
import { parseHex } from '../parse.js';
import { keyOption } from './admin.js';

export function workerCommand(): Command {
  const worker = new Command('worker').description('worker account: votes');
  keyOption(worker.command('vote <solution> <round-id> <result-hex>'), 'worker')
    .description('vote <result-hex> (1..64 bytes) in a round; the same vote again is accepted and changes nothing')
    .action(async function (this: Command, solution: string, roundId: string, resultHex: string, o: { key: string }) {
      const ctx = contextOf(this);
      const result = parseHex('result-hex', resultHex, 64);
      const signer = ctx.signer(o.key);
      const res = await withEwx(ctx, signer, async (ewx) => ewx.voting.submitVote(await signVote(signer, { solution, roundId, result })));
      ctx.print({ worker: signer.address, solution, roundId, result: result.toString('hex'), ...res },
        res.accepted ? `vote ${result.toString('hex')} recorded for round ${roundId} of ${solution}` : `the same vote was already recorded for round ${roundId} of ${solution}`);
    });
  return worker;
}
