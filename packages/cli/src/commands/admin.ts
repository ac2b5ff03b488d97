import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { depositMany, untilHeight } from '@ewx/client';
import { chunkOption, csvRows, parseChunk, progressBar, reportBatch } from './batches.js';
import { contextOf, withEwx } from '../context.js';
import { formatTokens, parseAmount, parseInteger } from '../parse.js';

/** `-k, --key` with the role's key name as default. */
export const keyOption = (cmd: Command, role: string): Command =>
  cmd.option('-k, --key <name|file>', `signing key: a name in the keys directory or a key file`, role);

export function adminCommand(): Command {
  const admin = new Command('admin').description('admin account: deposits, manual blocks, reward period length');

  keyOption(admin.command('deposit <account> <amount>'), 'admin')
    .description('lift <amount> tokens onto the network into <account> (an address or a key name)')
    .action(async function (this: Command, account: string, amount: string, o: { key: string }) {
      const ctx = contextOf(this);
      const to = ctx.account('account', account);
      const value = parseAmount('amount', amount);
      const signer = ctx.signer(o.key);
      const res = await withEwx(ctx, signer, (ewx) => ewx.registry.deposit({ account: to, amount: value.toString() }));
      const a = res.account!;
      ctx.print(res, { account: a.address, deposited: formatTokens(value), free: formatTokens(a.free), reserved: formatTokens(a.reserved) });
    });

  chunkOption(keyOption(admin.command('deposit-batch <file>'), 'admin'))
    .description(
      'many deposits from a CSV file of account,amount lines (address or key name, tokens as for deposit), ' +
        'each signed as a single deposit and sent in batches (Registry.DepositBatch); refused lines are listed, the others applied',
    )
    .action(async function (this: Command, file: string, o: { key: string; chunk: string }) {
      const ctx = contextOf(this);
      const chunk = parseChunk(o.chunk);
      const items = csvRows(file, ['account', 'amount']).map(({ line, cells }) => ({
        line,
        account: ctx.account(`line ${line}: account`, cells[0]!),
        amount: parseAmount(`line ${line}: amount`, cells[1]!),
      }));
      const signer = ctx.signer(o.key);
      const results = await withEwx(ctx, signer, async (ewx) => {
        const bar = progressBar(ctx, 'deposits', items.length);
        try {
          return await depositMany(ewx, signer, items, { chunk, onProgress: (done) => bar.update(done) });
        } finally {
          bar.stop();
        }
      });
      reportBatch(
        ctx,
        'deposits',
        items.map((i) => ({ line: i.line, account: i.account, amount: formatTokens(i.amount) })),
        results,
      );
    });

  keyOption(admin.command('produce-blocks <count>'), 'admin')
    .description(
      'produce <count> blocks (1 to 1000000, block time manual only) in one call, recorded as one run of blocks, ' +
        'and wait until every service has recorded them',
    )
    .option('--no-wait', 'return once consensus has produced them')
    .action(async function (this: Command, count: string, o: { key: string; wait: boolean }) {
      const ctx = contextOf(this);
      const n = parseInteger('count', count, 1, 1_000_000);
      const signer = ctx.signer(o.key);
      await withEwx(ctx, signer, async (ewx) => {
        const from = (await ewx.consensus.getStatus({})).height;
        // One call: ProduceBlocks takes up to 1000000 blocks and records them as one run.
        const { height } = await ewx.consensus.produceBlocks({ count: n });
        if (o.wait) {
          // The bar shows the blocks every service has recorded, as the slowest one catches up.
          const bar =
            ctx.json || !process.stderr.isTTY
              ? undefined
              : new cliProgress.SingleBar(
                  { format: 'blocks {bar} {value}/{total} recorded by every service (height {reached})', stream: process.stderr, hideCursor: true },
                  cliProgress.Presets.shades_classic,
                );
          bar?.start(n, 0, { reached: from.toString() });
          try {
            await untilHeight(ewx, height, {
              timeoutMs: 120_000,
              retry: ctx.retry,
              onProgress: (s) => {
                // biome-ignore lint/complexity/useMathMinMax: heights are bigint, which Math.min does not take
                const reached = Object.values(s).reduce((m, x) => (x.height < m ? x.height : m), height);
                bar?.update(Math.max(0, Math.min(n, Number(reached - from))), { reached: reached.toString() });
              },
            });
          } finally {
            bar?.stop();
          }
        }
        ctx.print({ produced: n, height }, `produced ${n} blocks; height ${height}${o.wait ? ' (recorded by every service)' : ''}`);
      });
    });

  keyOption(admin.command('set-period-length <blocks>'), 'admin')
    .description('the reward period length in blocks, from the next period on')
    .action(async function (this: Command, blocks: string, o: { key: string }) {
      const ctx = contextOf(this);
      const length = parseInteger('blocks', blocks, 1, 1_000_000);
      const signer = ctx.signer(o.key);
      const res = await withEwx(ctx, signer, (ewx) => ewx.rewards.setRewardPeriodLength({ length }));
      const e = res.entry!;
      ctx.print(res, { fromPeriod: e.fromPeriod, firstBlock: e.firstBlock, length: e.length });
    });
  return admin;
}
