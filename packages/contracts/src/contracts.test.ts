import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { encode, upcast, type Json, type StoredEvent, type TypedEvent } from './codec.js';
import { withdrawalStage } from './published.js';
import { decodeConsensusLog } from './consensus.js';
import { decodeDistanceLog } from './distance.js';
import { decodeRegistryLog } from './registry.js';
import { decodeRewardsLog } from './rewards.js';
import { UPCASTERS } from './upcasters.js';
import { CONSENSUS_EVENTS, DISTANCE_EVENTS, REGISTRY_EVENTS, REWARDS_EVENTS, VOTING_EVENTS } from './versions.js';
import { decodeVotingLog } from './voting.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);

const services: Record<string, { versions: Record<string, number>; decode: (e: StoredEvent) => TypedEvent | undefined }> = {
  consensus: { versions: CONSENSUS_EVENTS, decode: decodeConsensusLog },
  voting: { versions: VOTING_EVENTS, decode: decodeVotingLog },
  registry: { versions: REGISTRY_EVENTS, decode: decodeRegistryLog },
  rewards: { versions: REWARDS_EVENTS, decode: decodeRewardsLog },
  distance: { versions: DISTANCE_EVENTS, decode: decodeDistanceLog },
};

/** Optional fields added by a version that an upcaster does not invent: an older fixture lacks them. */
const OPTIONAL: Record<string, readonly string[]> = { RoundSettled: ['validators'], RoundUnresolved: ['validators'] };

/** `current` less the `optional` data fields that `old` does not have. */
function withoutAbsent<T extends { data: Json }>(current: T, old: { data: Json }, optional: readonly string[] = []): T {
  const oldData = old.data as Record<string, Json>;
  const missing = new Set(optional.filter((k) => !(k in oldData)));
  if (missing.size === 0) return current;
  return { ...current, data: Object.fromEntries(Object.entries(current.data as Record<string, Json>).filter(([k]) => !missing.has(k))) };
}

const read = (service: string, file: string): { type: string; data: Json; metadata?: Json } =>
  JSON.parse(readFileSync(new URL(`${service}/${file}`, FIXTURES), 'utf8'));

for (const [service, { versions, decode }] of Object.entries(services)) {
  test(`${service}: every event type has a fixture of its current version, and no fixture is of an unknown type or version`, () => {
    const files = readdirSync(new URL(`${service}/`, FIXTURES)).sort();
    const expected = Object.entries(versions)
      .map(([t, v]) => `${t}.v${v}.json`)
      .sort();
    for (const f of expected) assert.ok(files.includes(f), `missing fixture ${service}/${f}`);
    for (const f of files) {
      const m = /^(\w+)\.v(\d+)\.json$/.exec(f);
      assert.ok(m, `fixture name ${f}`);
      assert.ok(versions[m[1]!] !== undefined, `${f}: ${m[1]} is not an event of ${service}`);
      assert.ok(Number(m[2]) <= versions[m[1]!]!, `${f}: version above the current ${versions[m[1]!]}`);
    }
  });

  test(`${service}: each fixture decodes to its type and re-encodes to the same JSON (an old version with an upcaster: to its current version's fixture)`, () => {
    for (const f of readdirSync(new URL(`${service}/`, FIXTURES))) {
      const stored = read(service, f);
      const decoded = decode(stored);
      assert.ok(decoded, `${f} does not decode`);
      const [type, v] = f.split('.') as [string, string];
      assert.equal(decoded.type, type);
      const again = encode(decoded, stored.metadata);
      const current = `v${versions[type]}`;
      // The upcast fixtures are derived from the current version's recorded event (less the optional
      // fields an old version lacks, e.g. a v1 RoundSettled's `validators`).
      const expected = UPCASTERS[type] && v !== current ? withoutAbsent(read(service, `${type}.${current}.json`), stored, OPTIONAL[type]) : stored;
      assert.equal(JSON.stringify(again), JSON.stringify(expected), f);
    }
  });
}

test('a type that a log does not fold decodes to undefined', () => {
  assert.equal(decodeDistanceLog({ type: 'Deposited', data: { account: 'a', amount: '1' } }), undefined);
  assert.equal(decodeVotingLog({ type: 'Deposited', data: { account: 'a', amount: '1' } }), undefined);
  assert.equal(decodeConsensusLog({ type: 'Nonsense', data: {} }), undefined);
  assert.equal(decodeRegistryLog({ type: 'VoteCast', data: {} }), undefined);
  assert.equal(decodeRewardsLog({ type: 'RoundStarted', data: {} }), undefined);
});

test('upcasting: v1 OperatorUnsubscribed and StakeReleased read as v2 in every log that records them; v2 is left as it is', () => {
  const v1 = { type: 'OperatorUnsubscribed', data: { group: 'g', operator: 'o', period: 4, finalPeriod: 6, height: 40 } };
  const v2 = { group: 'g', operator: 'o', unsubscribedInPeriod: 4, finalPeriod: 6, height: 40 };
  for (const decode of [decodeRegistryLog, decodeRewardsLog, decodeVotingLog]) {
    assert.deepEqual(decode(v1)?.data, v2);
    assert.deepEqual(decode({ type: 'OperatorUnsubscribed', data: v2 })?.data, v2);
    assert.deepEqual(decode({ type: 'StakeReleased', data: { group: 'g', operator: 'o', amount: '5', period: 6 } })?.data, {
      group: 'g',
      operator: 'o',
      amount: '5',
      finalPeriod: 6,
    });
  }
  assert.deepEqual(upcast(v1), { type: 'OperatorUnsubscribed', data: v2 });
});

test('withdrawalStage: unsubscribed in period 4 with delay 2 (final period 6): in through 5, final in 6, releasable from 7', () => {
  assert.deepEqual(
    [3, 4, 5, 6, 7, 8].map((p) => withdrawalStage(6, p)),
    ['IN', 'IN', 'IN', 'FINAL', 'RELEASABLE', 'RELEASABLE'],
  );
  assert.equal(withdrawalStage(undefined, 100), 'IN');
});

test("upcasting: the payout events' bare `period` reads as `rewardPeriod` in the same place, and a decision's inputs use the API's spelling", () => {
  const v1 = {
    type: 'RewardInputsRecorded',
    data: { group: 'g', period: 3, chunk: 0, chunks: 1, operators: [{ operator: 'o', stake: '5', eligible: 4, correct: 3, inFinalPeriod: false }] },
  };
  assert.equal(
    JSON.stringify(decodeRewardsLog(v1)?.data),
    JSON.stringify({
      group: 'g',
      rewardPeriod: 3,
      chunk: 0,
      chunks: 1,
      operators: [{ operator: 'o', stake: '5', eligibleRounds: 4, correctVotes: 3, inFinalPeriod: false }],
    }),
  );
  const computed = { type: 'RewardsComputed', data: { group: 'g', period: 3, chunk: 0, chunks: 1, payouts: [], subtotal: '0' } };
  for (const decode of [decodeRegistryLog, decodeRewardsLog]) {
    assert.equal(JSON.stringify(decode(computed)?.data), JSON.stringify({ group: 'g', rewardPeriod: 3, chunk: 0, chunks: 1, payouts: [], subtotal: '0' }));
  }
  assert.deepEqual(decodeRewardsLog({ type: 'RewardsCredited', data: { group: 'g', period: 1, chunk: 0, total: '0', payouts: [] } })?.data, {
    group: 'g',
    rewardPeriod: 1,
    chunk: 0,
    total: '0',
    payouts: [],
  });
});

test("upcasting: the distance events' bare `period` reads as `requestPeriod` or `evaluationPeriod` in the same place, in the distance and registry logs; v2 is left as it is", () => {
  const requested = { holdId: 'distance:3:1', identity: 3, requester: 'r', amount: '10', period: 0, evaluationPeriod: 1, pool: 1, index: 0 };
  assert.equal(
    JSON.stringify(decodeDistanceLog({ type: 'EvaluationRequested', data: requested })?.data),
    JSON.stringify({ holdId: 'distance:3:1', identity: 3, requester: 'r', amount: '10', requestPeriod: 0, evaluationPeriod: 1, pool: 1, index: 0 }),
  );
  assert.deepEqual(
    decodeDistanceLog({ type: 'HoldRequested', data: { holdId: 'h', identity: 3, requester: 'r', amount: '10', period: 4, height: 41 } })?.data,
    { holdId: 'h', identity: 3, requester: 'r', amount: '10', requestPeriod: 4, height: 41 },
  );
  assert.deepEqual(decodeDistanceLog({ type: 'ResultPublished', data: { evaluator: 'e', period: 2, pool: 2, height: 50, values: [1] } })?.data, {
    evaluator: 'e',
    evaluationPeriod: 2,
    pool: 2,
    height: 50,
    values: [1],
  });
  assert.deepEqual(decodeDistanceLog({ type: 'ValidityExpired', data: { identity: 3, validUntilPeriod: 3, period: 4 } })?.data, {
    identity: 3,
    validUntilPeriod: 3,
    evaluationPeriod: 4,
  });
  const settled = { holdId: 'h', identity: 3, requester: 'r', outcome: 'INVALID', period: 2 };
  for (const decode of [decodeDistanceLog, decodeRegistryLog]) {
    assert.equal(
      JSON.stringify(decode({ type: 'EvaluationSettled', data: settled })?.data),
      JSON.stringify({ holdId: 'h', identity: 3, requester: 'r', outcome: 'INVALID', evaluationPeriod: 2 }),
    );
    const v2 = { holdId: 'h', identity: 3, requester: 'r', outcome: 'VALID', evaluationPeriod: 2, validUntilPeriod: 5 };
    assert.deepEqual(decode({ type: 'EvaluationSettled', data: v2 })?.data, v2);
  }
});

test("upcasting: the round events' bare `period` reads as `rewardPeriod` in the same place, in every log that records them; the current shape is left as it is", () => {
  const started = {
    solution: 's',
    roundId: 'r',
    group: 'g',
    starter: 'w',
    startBlock: 11,
    endBlock: 14,
    period: 1,
    quorumPercent: 50,
    voteThresholdPercent: 60,
    unresolvedPolicy: 'NONE',
    eligible: 3,
    snapshotChunks: 1,
  };
  const startedV2 = JSON.stringify({ ...started, period: undefined }).replace('"endBlock":14', '"endBlock":14,"rewardPeriod":1');
  for (const decode of [decodeVotingLog, decodeConsensusLog]) {
    assert.equal(JSON.stringify(decode({ type: 'RoundStarted', data: started })?.data), startedV2);
    assert.equal(JSON.stringify(decode({ type: 'RoundStarted', data: JSON.parse(startedV2) })?.data), startedV2);
  }
  const tally = { eligible: 3, submitted: 1, top: 1, outcome: 'UNRESOLVED', reason: 'NO_QUORUM' };
  const unresolvedV1 = { solution: 's', roundId: 'r', group: 'g', period: 2, reason: 'NO_QUORUM', tally, merkleRoot: 'm', attestors: ['a'], dissenters: [] };
  const unresolvedV2 = { ...unresolvedV1, validators: ['a'] };
  for (const decode of [decodeConsensusLog, decodeVotingLog]) {
    for (const old of [unresolvedV1, unresolvedV2]) {
      const renamed = Object.fromEntries(Object.entries(old).map(([k, v]) => [k === 'period' ? 'rewardPeriod' : k, v]));
      assert.equal(JSON.stringify(decode({ type: 'RoundUnresolved', data: old })?.data), JSON.stringify(renamed));
      assert.equal(JSON.stringify(decode({ type: 'RoundUnresolved', data: renamed })?.data), JSON.stringify(renamed));
    }
  }
});
