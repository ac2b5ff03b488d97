import {
  clockNonces,
  connectWorkerWithConsent,
  counterNonces,
  generateKeyPair,
  keySigner,
  untilHeight,
  type Ewx,
  type KeyPair,
  type Signer,
} from '@ewx/client';

/**
 * A small network set up through the client kit alone, as a registrar and its operators would:
 * deposits by the admin, a registrar, a group, solutions, operators that subscribe and connect a
 * worker each. The demo and the worker's tests use it; it signs every command like any client.
 */

export const TOKEN = 10n ** 18n;
const T = (n: bigint | number): string => (BigInt(n) * TOKEN).toString();

export interface Account {
  readonly key: KeyPair;
  readonly signer: Signer;
}

/** A fresh account; `clock` nonces let a second signer of the same key (a restarted runtime) go on. */
export const newAccount = (clock = false): Account => {
  const key = generateKeyPair();
  return { key, signer: keySigner(key, clock ? clockNonces() : counterNonces()) };
};

export interface SolutionSpec {
  readonly namespace: string;
  readonly logicRef: string;
  readonly startMethod?: 'REGISTRAR' | 'WORKER';
  /** Blocks a round stays open (default 3). */
  readonly maxWaiting?: number;
  readonly quorumPercent?: number;
  readonly voteThresholdPercent?: number;
}

export interface ScenarioOptions {
  /** Signs with `admin`; other signers are passed per call. */
  readonly ewx: Ewx;
  readonly admin: Signer;
  readonly group: string;
  readonly solutions: readonly SolutionSpec[];
  readonly operators: number;
  /** Whole tokens (default 10 each, the group's minimum). */
  readonly stake?: number;
  readonly budget?: number;
  readonly slaPercent?: number;
  /** Only link the first `linked` workers (default all); the rest are made but not connected. */
  readonly linked?: number;
  /** Only subscribe the first `subscribed` operators (default all). */
  readonly subscribed?: number;
}

export interface Operator extends Account {
  readonly worker: Account;
}

export interface Scenario {
  readonly registrar: Account;
  readonly operators: readonly Operator[];
}

/** Connects `worker` to `operator`: the operator signs, the worker consents with its own signature. */
export async function connectWorker(ewx: Ewx, operator: Signer, worker: Signer): Promise<void> {
  await connectWorkerWithConsent(ewx, operator, worker);
}

export async function subscribe(ewx: Ewx, o: ScenarioOptions, operator: Signer): Promise<void> {
  await ewx.registry.subscribe({ group: o.group, stake: T(o.stake ?? 10) }, { signer: operator });
}

export async function setUpScenario(o: ScenarioOptions): Promise<Scenario> {
  const { ewx } = o;
  const status = await ewx.consensus.getStatus({});
  // The period schedule starts with the first block.
  if (status.height === 0n) await untilHeight(ewx, (await ewx.consensus.produceBlocks({ count: 1 })).height, { timeoutMs: 30_000 });
  const registrar = newAccount();
  const operators: Operator[] = Array.from({ length: o.operators }, () => ({ ...newAccount(), worker: newAccount(true) }));
  const stake = o.stake ?? 10;
  const budget = o.budget ?? 100_000;
  // The admin's nonces must arrive in order: its deposits go one by one.
  await ewx.registry.deposit({ account: registrar.key.address, amount: T(budget + 10) });
  for (const op of operators) await ewx.registry.deposit({ account: op.key.address, amount: T(stake * 2) });
  const height = (await ewx.registry.getStatus({})).height;
  await ewx.registry.signUpRegistrar({ friendlyName: 'Demo registrar', legalLocation: 'DE' }, { signer: registrar.signer });
  await ewx.registry.registerGroup(
    {
      budget: T(budget),
      config: {
        namespace: o.group,
        info: 'demo group',
        minStake: T(stake),
        maxStake: T(stake * 10),
        maxOperators: Math.max(10, o.operators * 2),
        allowListEnabled: false,
        startBlock: 0n,
        subscriptionRewardPerBlock: T(1),
        votingRewardPerBlock: T(1),
        slaVotingThreshold: o.slaPercent ?? 50,
        operationStartBlock: 0n,
        operationEndBlock: height + 10_000_000n,
        withdrawalDelay: 1,
      },
    },
    { signer: registrar.signer },
  );
  for (const s of o.solutions) {
    await ewx.registry.registerSolution(
      {
        config: {
          namespace: s.namespace,
          group: o.group,
          name: s.namespace,
          description: 'demo solution',
          logicRef: s.logicRef,
          expirationBlock: height + 10_000_000n,
          maxWaitingThreshold: BigInt(s.maxWaiting ?? 3),
          voteThresholdPercent: s.voteThresholdPercent ?? 60,
          quorumPercent: s.quorumPercent ?? 50,
          votingStartMethod: s.startMethod ?? 'REGISTRAR',
          nominationsEnabled: false,
          unresolvedPolicy: 'NONE',
        },
      },
      { signer: registrar.signer },
    );
  }
  // Each operator signs for itself: they go in parallel, a few at a time.
  const linked = o.linked ?? o.operators;
  const subscribed = o.subscribed ?? o.operators;
  for (let i = 0; i < operators.length; i += 16) {
    await Promise.all(
      operators.slice(i, i + 16).map(async (op, j) => {
        if (i + j < subscribed) await subscribe(ewx, o, op.signer);
        if (i + j < linked) await connectWorker(ewx, op.signer, op.worker.signer);
      }),
    );
  }
  return { registrar, operators };
}
