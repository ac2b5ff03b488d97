import type { EventData, SolutionConfig } from '@ewx/platform';

/** Test fixtures: registry, rewards and consensus events as voting records them. */
export const REGISTRAR = 'ed25519:' + 'aa'.repeat(32);
export const worker = (i: number): string => `ed25519:${'0'.repeat(60)}${(0x1000 + i).toString(16)}`;
export const operator = (i: number): string => `ed25519:${'f'.repeat(60)}${(0x1000 + i).toString(16)}`;

export const solutionConfig = (o: Partial<SolutionConfig> = {}): SolutionConfig => ({
  namespace: 's1',
  group: 'g1',
  name: 'Solution',
  description: '',
  logicRef: 'bafy',
  expirationBlock: 1000,
  maxWaitingThreshold: 10,
  voteThresholdPercent: 60,
  quorumPercent: 50,
  votingStartMethod: 'REGISTRAR',
  nominationsEnabled: false,
  unresolvedPolicy: 'NONE',
  ...o,
});

export const ev = (type: string, data: object): EventData => ({ type, data: data as never });
export const block = (height: number): EventData => ev('BlockProduced', { height });

/** Period length 100 from block 1: period 0 = blocks 1..100, period 1 = 101..200. */
export const schedule = ev('RewardPeriodScheduleChanged', { fromPeriod: 0, firstBlock: 1, length: 100 });

/** `n` operators subscribed to g1 from period 0, each with a connected worker. */
export function operators(n: number, from = 1, group = 'g1', activeFromPeriod = 0): EventData[] {
  return Array.from({ length: n }, (_, k) => k + from).flatMap((i) => [
    ev('OperatorSubscribed', { group, operator: operator(i), stake: '1000', activeFromPeriod, height: 1 }),
    ev('WorkerConnected', { operator: operator(i), worker: worker(i), height: 1 }),
  ]);
}

export const world = (config: Partial<SolutionConfig> = {}, ops = 10): EventData[] => [
  schedule,
  ev('GroupRegistered', { group: 'g1', owner: REGISTRAR, config: {}, budget: '0', height: 1 }),
  ev('SolutionRegistered', { solution: 's1', owner: REGISTRAR, config: solutionConfig(config), height: 1 }),
  ...operators(ops),
];
