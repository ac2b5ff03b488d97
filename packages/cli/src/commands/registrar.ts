import { Command } from 'commander';
import { groupStatusOf, GroupStatus, nominateMany, solutionStatusOf, SolutionStatus, statusName } from '@ewx/client';
import { chunkOption, csvRows, parseChunk, progressBar, reportBatch } from './batches.js';
import { contextOf, withEwx } from '../context.js';
import { formatTokens, parseAmount, parseChoice, parseInteger, UsageError } from '../parse.js';
import { keyOption } from './admin.js';

const MAX_HEIGHT = 2 ** 53 - 1;
const height = (field: string, s: string): bigint => BigInt(parseInteger(field, s, 0, MAX_HEIGHT));

export function registrarCommand(): Command {
  const registrar = new Command('registrar').description('registrar account');
  keyOption(registrar.command('sign-up'), 'registrar')
    .description('sign the key up as a registrar')
    .requiredOption('--name <friendly-name>', '1..64 characters')
    .requiredOption('--location <legal-location>', '2..64 characters, e.g. DE or "Berlin, DE"')
    .action(async function (this: Command, o: { key: string; name: string; location: string }) {
      const ctx = contextOf(this);
      const signer = ctx.signer(o.key);
      const res = await withEwx(ctx, signer, (ewx) => ewx.registry.signUpRegistrar({ friendlyName: o.name, legalLocation: o.location }));
      ctx.print({ registrar: signer.address, ...res }, `registrar ${signer.address} signed up (${o.name}, ${o.location})`);
    });
  return registrar;
}

interface GroupOptions {
  key: string;
  budget: string;
  minStake: string;
  maxStake: string;
  maxOperators: string;
  subscriptionReward: string;
  votingReward: string;
  sla: string;
  startBlock: string;
  operationStart: string;
  operationEnd: string;
  withdrawalDelay: string;
  info: string;
  allowList?: string;
}

export function groupCommand(): Command {
  const group = new Command('group').description('solution groups');
  keyOption(group.command('create <namespace>'), 'registrar')
    .description('register a solution group owned by the registrar; the budget is reserved from its free balance')
    .requiredOption('--budget <tokens>', 'reward budget')
    .option('--min-stake <tokens>', 'minimum operator stake', '1')
    .option('--max-stake <tokens>', 'maximum operator stake', '1000')
    .option('--max-operators <n>', '1..10000', '100')
    .option('--subscription-reward <tokens>', 'base reward per block, shared by stake', '1')
    .option('--voting-reward <tokens>', 'active reward per block, shared by correct votes × stake', '1')
    .option('--sla <percent>', 'SLA voting threshold, 0..100', '50')
    .option('--start-block <height>', 'subscriptions accepted from this height', '0')
    .option('--operation-start <height>', 'first block of operation', '1')
    .option('--operation-end <height>', 'last block of operation', '1000000')
    .option('--withdrawal-delay <periods>', '1..1000 reward periods', '1')
    .option('--info <text>', 'up to 1024 characters', '')
    .option('--allow-list <addresses>', 'comma-separated operator addresses; enables the allow list')
    .action(async function (this: Command, namespace: string, o: GroupOptions) {
      const ctx = contextOf(this);
      const allowList = o.allowList ? o.allowList.split(',').map((a) => ctx.account('allow-list', a.trim())) : [];
      const config = {
        namespace,
        info: o.info,
        minStake: parseAmount('min-stake', o.minStake).toString(),
        maxStake: parseAmount('max-stake', o.maxStake).toString(),
        maxOperators: parseInteger('max-operators', o.maxOperators, 1, 10_000),
        allowListEnabled: allowList.length > 0,
        startBlock: height('start-block', o.startBlock),
        subscriptionRewardPerBlock: parseAmount('subscription-reward', o.subscriptionReward, { positive: false }).toString(),
        votingRewardPerBlock: parseAmount('voting-reward', o.votingReward, { positive: false }).toString(),
        slaVotingThreshold: parseInteger('sla', o.sla, 0, 100),
        operationStartBlock: height('operation-start', o.operationStart),
        operationEndBlock: height('operation-end', o.operationEnd),
        withdrawalDelay: parseInteger('withdrawal-delay', o.withdrawalDelay, 1, 1000),
      };
      if (BigInt(config.minStake) > BigInt(config.maxStake)) throw new UsageError(`min-stake: must not exceed max-stake (${o.minStake} > ${o.maxStake})`);
      const budget = parseAmount('budget', o.budget);
      const signer = ctx.signer(o.key);
      const res = await withEwx(ctx, signer, (ewx) => ewx.registry.registerGroup({ config, budget: budget.toString(), allowList }));
      ctx.print(
        { group: namespace, owner: signer.address, ...res },
        `group ${namespace} registered by ${signer.address}; budget ${formatTokens(budget)} reserved`,
      );
    });

  group
    .command('show <namespace>')
    .description('a solution group: configuration, budget, operators, solutions')
    .action(async function (this: Command, namespace: string) {
      const ctx = contextOf(this);
      const g = await withEwx(ctx, undefined, (ewx) => ewx.registry.getGroup({ namespace }));
      const c = g.config!;
      const status = statusName(GroupStatus, groupStatusOf(g));
      ctx.print(
        { ...g, groupStatus: status },
        {
          group: c.namespace,
          status,
          owner: g.owner,
          budget: formatTokens(g.budget),
          operators: `${g.operators} of ${c.maxOperators}`,
          totalStake: formatTokens(g.totalStake),
          stake: `${formatTokens(c.minStake)} .. ${formatTokens(c.maxStake)}`,
          rewardsPerBlock: `subscription ${formatTokens(c.subscriptionRewardPerBlock)}, voting ${formatTokens(c.votingRewardPerBlock)}`,
          sla: `${c.slaVotingThreshold}%`,
          operation: `blocks ${c.operationStartBlock} .. ${c.operationEndBlock}`,
          withdrawalDelay: `${c.withdrawalDelay} period(s)`,
          allowList: c.allowListEnabled ? g.allowList : 'off',
          solutions: g.solutions,
          registeredAt: g.registeredAt,
        },
      );
    });
  return group;
}

interface SolutionOptions {
  key: string;
  group: string;
  name: string;
  logicRef: string;
  description: string;
  expirationBlock: string;
  maxWaiting: string;
  voteThreshold: string;
  quorum: string;
  startMethod: string;
  nominations?: boolean;
  unresolvedPolicy: string;
}

export function solutionCommand(): Command {
  const solution = new Command('solution').description('solutions of a group');
  keyOption(solution.command('create <namespace>'), 'registrar')
    .description("register a solution in one of the registrar's groups")
    .requiredOption('--group <namespace>', 'the solution group')
    .requiredOption('--logic-ref <cid>', "a content id of the solution's logic, 1..256 characters")
    .option('--name <name>', '1..128 characters (default: the namespace)')
    .option('--description <text>', 'up to 1024 characters', '')
    .option('--expiration-block <height>', 'no round starts after it', '1000000')
    .option('--max-waiting <blocks>', 'blocks a round stays open for votes; at most the period length', '3')
    .option('--vote-threshold <percent>', 'share of votes the top result needs, 0..100', '50')
    .option('--quorum <percent>', 'share of eligible workers that must vote, 0..100', '50')
    .option('--start-method <method>', 'REGISTRAR or WORKER', 'REGISTRAR')
    .option('--nominations', 'only nominated workers vote')
    .option('--unresolved-policy <policy>', 'NONE or RETRY_ONCE', 'NONE')
    .action(async function (this: Command, namespace: string, o: SolutionOptions) {
      const ctx = contextOf(this);
      const config = {
        namespace,
        group: o.group,
        name: o.name ?? namespace,
        description: o.description,
        logicRef: o.logicRef,
        expirationBlock: height('expiration-block', o.expirationBlock),
        maxWaitingThreshold: BigInt(parseInteger('max-waiting', o.maxWaiting, 1, 1_000_000)),
        voteThresholdPercent: parseInteger('vote-threshold', o.voteThreshold, 0, 100),
        quorumPercent: parseInteger('quorum', o.quorum, 0, 100),
        votingStartMethod: parseChoice('start-method', o.startMethod, ['REGISTRAR', 'WORKER'] as const),
        nominationsEnabled: !!o.nominations,
        unresolvedPolicy: parseChoice('unresolved-policy', o.unresolvedPolicy, ['NONE', 'RETRY_ONCE'] as const),
      };
      const signer = ctx.signer(o.key);
      const res = await withEwx(ctx, signer, (ewx) => ewx.registry.registerSolution({ config }));
      ctx.print({ solution: namespace, group: o.group, ...res }, `solution ${namespace} registered in group ${o.group}`);
    });

  keyOption(solution.command('nominate <solution> <worker>'), 'registrar')
    .description('nominate a worker (an address or a key name) for a solution with nominations on')
    .action(async function (this: Command, sol: string, worker: string, o: { key: string }) {
      const ctx = contextOf(this);
      const w = ctx.account('worker', worker);
      const signer = ctx.signer(o.key);
      const res = await withEwx(ctx, signer, (ewx) => ewx.registry.nominateWorker({ solution: sol, worker: w }));
      ctx.print({ solution: sol, worker: w, ...res }, `worker ${w} nominated for ${sol}`);
    });

  chunkOption(keyOption(solution.command('nominate-batch <solution> <file>'), 'registrar'))
    .description(
      'nominate (or with --remove, unnominate) the workers listed in <file>, one address or key name a line, ' +
        'each signed as a single nomination and sent in batches (Registry.NominateWorkers); refused lines are listed, the others applied',
    )
    .option('--remove', 'unnominate them instead')
    .action(async function (this: Command, sol: string, file: string, o: { key: string; chunk: string; remove?: boolean }) {
      const ctx = contextOf(this);
      const chunk = parseChunk(o.chunk);
      const items = csvRows(file, ['worker']).map(({ line, cells }) => ({ line, solution: sol, worker: ctx.account(`line ${line}: worker`, cells[0]!) }));
      const signer = ctx.signer(o.key);
      const results = await withEwx(ctx, signer, async (ewx) => {
        const bar = progressBar(ctx, o.remove ? 'unnominations' : 'nominations', items.length);
        try {
          return await nominateMany(ewx, signer, items, { chunk, unnominate: !!o.remove, onProgress: (done) => bar.update(done) });
        } finally {
          bar.stop();
        }
      });
      reportBatch(ctx, o.remove ? 'unnominations' : 'nominations', items, results);
    });

  solution
    .command('show <namespace>')
    .description('a solution: configuration, status, nominated workers')
    .action(async function (this: Command, namespace: string) {
      const ctx = contextOf(this);
      const s = await withEwx(ctx, undefined, (ewx) => ewx.registry.getSolution({ namespace }));
      const c = s.config!;
      const status = statusName(SolutionStatus, solutionStatusOf(s));
      ctx.print(
        { ...s, solutionStatus: status },
        {
          solution: c.namespace,
          group: c.group,
          status,
          owner: s.owner,
          name: c.name,
          logicRef: c.logicRef,
          expirationBlock: c.expirationBlock,
          maxWaiting: `${c.maxWaitingThreshold} blocks`,
          voteThreshold: `${c.voteThresholdPercent}%`,
          quorum: `${c.quorumPercent}%`,
          startMethod: c.votingStartMethod,
          nominations: c.nominationsEnabled ? s.nominatedWorkers : 'off',
          unresolvedPolicy: c.unresolvedPolicy,
        },
      );
    });
  return solution;
}
