import { Command } from 'commander';
import { connectWorkerWithConsent, rewardPeriodOf } from '@ewx/client';
import { contextOf, withEwx } from '../context.js';
import { formatTokens, parseAmount, parseInteger, UsageError } from '../parse.js';
import { keyOption } from './admin.js';

export function operatorCommand(): Command {
  const operator = new Command('operator').description('operator account: subscriptions, worker, rewards');

  keyOption(operator.command('subscribe <group> <stake>'), 'operator')
    .description('subscribe to a solution group, locking <stake> tokens from the free balance')
    .action(async function (this: Command, group: string, stake: string, o: { key: string }) {
      const ctx = contextOf(this);
      const value = parseAmount('stake', stake);
      const signer = ctx.signer(o.key);
      const res = await withEwx(ctx, signer, (ewx) => ewx.registry.subscribe({ group, stake: value.toString() }));
      ctx.print(
        { operator: signer.address, group, stake: value.toString(), ...res },
        `${signer.address} subscribed to ${group} with ${formatTokens(value)} tokens`,
      );
    });

  keyOption(operator.command('connect-worker'), 'operator')
    .description('connect the worker whose key file is given to this operator (the worker co-signs its consent)')
    .requiredOption('--worker-key <name|file>', "the worker's key (name in the keys directory or a key file)")
    .action(async function (this: Command, o: { key: string; workerKey: string }) {
      const ctx = contextOf(this);
      const worker = ctx.signer(o.workerKey);
      const signer = ctx.signer(o.key);
      const res = await withEwx(ctx, signer, (ewx) => connectWorkerWithConsent(ewx, signer, worker));
      ctx.print({ operator: signer.address, worker: worker.address, ...res }, `worker ${worker.address} connected to operator ${signer.address}`);
    });

  keyOption(operator.command('claim [groups...]'), 'operator')
    .description('move unclaimed rewards of the listed groups (all when none) to the free balance')
    .action(async function (this: Command, groups: string[], o: { key: string }) {
      const ctx = contextOf(this);
      const signer = ctx.signer(o.key);
      const res = await withEwx(ctx, signer, (ewx) => ewx.registry.claimRewards({ groups }));
      ctx.print({ operator: signer.address, ...res }, [
        ...res.claimed.map((c) => ({ group: c.group, claimed: formatTokens(c.amount), base_units: c.amount })),
        { group: 'total', claimed: formatTokens(res.total), base_units: res.total },
      ]);
    });

  operator
    .command('rewards')
    .description('rewards of an operator: unclaimed per group; with --group its closed periods; with --period one period in detail')
    .option('--operator <address|key>', 'whose rewards', 'operator')
    .option('--group <namespace>', "one group's history")
    .option('--period <index>', 'one period (needs --group)')
    .action(async function (this: Command, o: { operator: string; group?: string; period?: string }) {
      const ctx = contextOf(this);
      const op = ctx.account('operator', o.operator);
      if (o.period !== undefined && !o.group) throw new UsageError('period: needs --group');
      const period = o.period === undefined ? undefined : parseInteger('period', o.period, 0, 2 ** 32 - 1);
      await withEwx(ctx, undefined, async (ewx) => {
        if (o.group && period !== undefined) {
          const r = await ewx.rewards.getOperatorRewards({ operator: op, group: o.group, rewardPeriod: period });
          ctx.print(r, {
            operator: r.operator,
            group: r.group,
            period: rewardPeriodOf(r),
            closed: r.closed,
            stake: formatTokens(r.stake),
            eligibleRounds: r.eligibleRounds,
            correctVotes: r.correctVotes,
            slaMet: r.slaMet,
            base: formatTokens(r.base),
            active: formatTokens(r.active),
            total: formatTokens(r.total),
            totalBaseUnits: r.total,
          });
        } else if (o.group) {
          const l = await ewx.rewards.listOperatorRewards({ operator: op, group: o.group, limit: 0 });
          ctx.print(
            l,
            l.rewards.map((r) => ({
              period: rewardPeriodOf(r),
              stake: formatTokens(r.stake),
              rounds: r.eligibleRounds,
              correct: r.correctVotes,
              sla: r.slaMet ? 'met' : 'missed',
              base: formatTokens(r.base),
              active: formatTokens(r.active),
              total: formatTokens(r.total),
            })),
          );
        } else {
          const u = await ewx.rewards.getUnclaimedRewards({ operator: op });
          ctx.print(u, [
            ...u.groups.map((g) => ({
              group: g.group,
              earned: formatTokens(g.earned),
              claimed: formatTokens(g.claimed),
              unclaimed: formatTokens(g.unclaimed),
            })),
            { group: 'total', earned: '', claimed: '', unclaimed: formatTokens(u.total) },
          ]);
        }
      });
    });

  operator
    .command('show')
    .description('an operator: connected worker, subscriptions, balances')
    .option('--operator <address|key>', 'which operator', 'operator')
    .action(async function (this: Command, o: { operator: string }) {
      const ctx = contextOf(this);
      const op = ctx.account('operator', o.operator);
      const r = await withEwx(ctx, undefined, (ewx) => ewx.registry.getOperator({ address: op }));
      ctx.print(r, {
        operator: r.address,
        worker: r.worker,
        free: formatTokens(r.account?.free ?? '0'),
        reserved: formatTokens(r.account?.reserved ?? '0'),
        unclaimed: formatTokens(r.account?.unclaimed ?? '0'),
        subscriptions: r.subscriptions.map(
          (s) => `${s.group}: ${formatTokens(s.stake)} from period ${s.activeFromPeriod}${s.unsubscribing ? `, leaving after period ${s.finalPeriod}` : ''}`,
        ),
      });
    });
  return operator;
}
