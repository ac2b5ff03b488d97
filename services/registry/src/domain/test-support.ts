import { encodePosition, type EventData, type GroupConfig, type RecordedEvent, type SolutionConfig } from '@ewx/platform';
import type { CommandOf, RegistryCommand } from './commands.js';
import { decide } from './decider.js';
import { evolve } from './evolve.js';
import { initialState, type RegistryPolicy, type RegistryState } from './state.js';

/** Test support for given/when/then over decide and evolve: no I/O, a log in memory. */

export const addr = (n: number): string => 'ed25519:' + n.toString(16).padStart(64, '0');
export const ADMIN = addr(0xad);
export const SERVICE = addr(0x5e);
export const REGISTRAR = addr(0x1001);
export const OPERATORS = [1, 2, 3, 4, 5, 6].map((i) => addr(0x2000 + i));
export const WORKERS = [1, 2, 3, 4, 5, 6].map((i) => addr(0x3000 + i));
export const POLICY: RegistryPolicy = { admin: ADMIN, ledgerServiceAccounts: [SERVICE] };
export const TOKEN = 10n ** 18n;
export const PERIOD_LENGTH = 10;

export const groupConfig = (over: Partial<GroupConfig> = {}): GroupConfig => ({
  namespace: 'grp.one',
  info: 'a group',
  minStake: (10n * TOKEN).toString(),
  maxStake: (100n * TOKEN).toString(),
  maxOperators: 5,
  allowListEnabled: false,
  startBlock: 0,
  subscriptionRewardPerBlock: '1000',
  votingRewardPerBlock: '2000',
  slaVotingThreshold: 50,
  operationStartBlock: 0,
  operationEndBlock: 1_000_000,
  withdrawalDelay: 2,
  ...over,
});

export const solutionConfig = (over: Partial<SolutionConfig> = {}): SolutionConfig => ({
  namespace: 'sol.one',
  group: 'grp.one',
  name: 'Solution one',
  description: '',
  logicRef: 'bafyabc',
  expirationBlock: 500_000,
  maxWaitingThreshold: 5,
  voteThresholdPercent: 60,
  quorumPercent: 50,
  votingStartMethod: 'REGISTRAR',
  nominationsEnabled: true,
  unresolvedPolicy: 'NONE',
  ...over,
});

export interface World {
  readonly state: RegistryState;
  readonly log: RecordedEvent[];
  /** Decides and applies; returns the events. */
  when(c: RegistryCommand): EventData[];
  /** Records another service's event, as the inbox does. */
  inbox(type: string, data: unknown): void;
  /** BlockProduced up to `height`. */
  blockTo(height: number): void;
}

export function world(): World {
  const state = initialState();
  const log: RecordedEvent[] = [];
  let pos = 0n;
  const apply = (events: readonly EventData[]): void => {
    for (const e of events) {
      const r: RecordedEvent = { ...e, streamId: 's', version: log.length, position: encodePosition([++pos]) };
      evolve(state, r);
      log.push(r);
    }
  };
  const w: World = {
    state,
    log,
    when(c) {
      const events = decide(c, state, POLICY);
      apply(events);
      return events;
    },
    inbox(type, data) {
      apply([{ type, data: data as never }]);
    },
    blockTo(height) {
      for (let h = state.height + 1; h <= height; h++) apply([{ type: 'BlockProduced', data: { height: h } }]);
    },
  };
  return w;
}

/** Schedule known (periods of 10 blocks from block 1), money deposited, a registrar signed up. */
export function funded(): World {
  const w = world();
  w.inbox('RewardPeriodScheduleChanged', { fromPeriod: 0, firstBlock: 1, length: PERIOD_LENGTH });
  for (const a of [REGISTRAR, ...OPERATORS]) w.when({ type: 'Deposit', signer: ADMIN, account: a, amount: (1000n * TOKEN).toString() });
  w.when({ type: 'SignUpRegistrar', signer: REGISTRAR, friendlyName: 'Acme', legalLocation: 'DE' });
  w.blockTo(1);
  return w;
}

/** …and a group `grp.one` with a budget of 100 tokens. */
export function withGroup(over: Partial<GroupConfig> = {}, allowList: string[] = []): World {
  const w = funded();
  w.when({ type: 'RegisterGroup', signer: REGISTRAR, config: groupConfig(over), budget: (100n * TOKEN).toString(), allowList });
  return w;
}

export const subscribeCmd = (operator: string, stake = 10n * TOKEN, group = 'grp.one'): RegistryCommand => ({
  type: 'Subscribe',
  signer: operator,
  group,
  stake: stake.toString(),
});

/** ConnectWorker signed by the operator, with the worker's consent (worker_auth) by `consentBy` (the worker by default; spread `consentBy: undefined` for none). */
export const connectCmd = (operator: string, worker: string, consentBy: string = worker): CommandOf<'ConnectWorker'> => ({
  type: 'ConnectWorker',
  signer: operator,
  worker,
  operator,
  consentBy,
});

export const types = (events: readonly EventData[]): string[] => events.map((e) => e.type);
