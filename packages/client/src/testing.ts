import type { GroupConfig, SolutionConfig } from '@ewx/proto/registry';

/**
 * The configurations the tests, benchmarks and demos register, in one place: a solution group and
 * a solution as the examples of the docs have them. Each caller names what it changes.
 */

/** One token in base units (18 decimals). */
const TOKEN = 10n ** 18n;

/**
 * A solution group: stake 1 to 100 tokens, at most 10 operators, no allow list, 1 token per block
 * for subscription and for voting, SLA 50 %, operating from block 1 to 1000, withdrawal delay of
 * one reward period.
 */
export function testGroupConfig(namespace: string, more: Partial<GroupConfig> = {}): GroupConfig {
  return {
    namespace,
    info: 'test',
    minStake: TOKEN.toString(),
    maxStake: (100n * TOKEN).toString(),
    maxOperators: 10,
    allowListEnabled: false,
    startBlock: 0n,
    subscriptionRewardPerBlock: TOKEN.toString(),
    votingRewardPerBlock: TOKEN.toString(),
    slaVotingThreshold: 50,
    operationStartBlock: 1n,
    operationEndBlock: 1000n,
    withdrawalDelay: 1,
    ...more,
  };
}

/**
 * A solution of `group`, named after its namespace's first label: rounds started by the registrar,
 * open 3 blocks, quorum 50 %, majority 60 %, no nominations, no retry; expires at block 10,000.
 */
export function testSolutionConfig(namespace: string, group: string, more: Partial<SolutionConfig> = {}): SolutionConfig {
  const name = namespace.split('.')[0]!;
  return {
    namespace,
    group,
    name,
    description: '',
    logicRef: `bafy-${name}`,
    expirationBlock: 10_000n,
    maxWaitingThreshold: 3n,
    voteThresholdPercent: 60,
    quorumPercent: 50,
    votingStartMethod: 'REGISTRAR',
    nominationsEnabled: false,
    unresolvedPolicy: 'NONE',
    ...more,
  };
}
