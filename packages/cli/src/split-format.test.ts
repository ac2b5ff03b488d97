import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SplitReport } from '@ewx/audit';
import { formatSplit } from './commands/voting.js';

const partition = (k: number, solutions: string[], state: SplitReport['partitions'][number]['state']) => ({
  partition: k,
  schema: `ewx_voting_p${k}`,
  solutions,
  rounds: solutions.length * 2,
  ownEvents: solutions.length * 6,
  inboxEvents: 10,
  state,
});

test('ewx voting split: what a dry run of a first split says (per partition, the consumers, the solutions placed)', () => {
  const r: SplitReport = {
    outcome: 'dry run',
    from: 1,
    source: { schema: 'ewx_voting', events: 22, end: '22', inboxEvents: 10, relayCheckpoint: '20' },
    partitions: [partition(0, ['a.sol'], 'copy'), partition(1, [], 'copied')],
    consumers: [{ group: 'ewx-consensus', behind: 3 }],
    wouldRefuse: 'consumers have not read all of voting’s topic',
  };
  const text = formatSplit(r, 2);
  assert.match(
    text,
    /^would split ewx_voting: 22 events up to position 22 \(10 inbox copies, copied to every partition; relay checkpoint 20, copied as it is\)\n/,
  );
  assert.match(text, /\n0 +ewx_voting_p0 +1 +2 +6 +10 +to copy\n1 +ewx_voting_p1 +0 +0 +0 +10 +copied already\n/);
  assert.match(text, /\nconsumers of voting's topic: ewx-consensus 3 behind\nwould refuse now: consumers have not read/);
  assert.match(text, /\n {2}p0: a\.sol$/);
});

test('ewx voting split: a split of partitions into more, and a finished first split', () => {
  const again: SplitReport = {
    outcome: 'split',
    from: 2,
    source: { schema: 'ewx_voting_p0…ewx_voting_p1', events: 40, end: '30,31', inboxEvents: 20, relayCheckpoint: '30,31' },
    partitions: [partition(0, [], 'prune'), partition(1, ['b.sol'], 'pruned'), partition(2, ['a.sol'], 'copy'), partition(3, [], 'copied')],
    consumers: undefined,
  };
  const text = formatSplit(again, 4);
  assert.match(text, /^split 2 partition logs into 4: 40 events \(20 inbox copies\); new partition k is old partition k mod 2's share/);
  assert.match(text, /kept its share\n.*kept its share \(an earlier run\)\n.*copied\n.*copied by an earlier run\n/);
  assert.match(text, /\nconsumers of voting's topic: not checked \(--skip-kafka-check\)\nstart voting with VOTING_PARTITIONS=4$/);
  const first: SplitReport = {
    ...again,
    from: 1,
    source: { schema: 'ewx_voting', events: 40, end: '40', inboxEvents: 10, relayCheckpoint: undefined },
    consumers: [],
  };
  assert.match(formatSplit(first, 4), /relay checkpoint none, copied as it is/);
  assert.match(
    formatSplit(first, 4),
    /none has read it\nthe unsplit tables are kept as ewx_voting\.events_unsplit .* start voting with VOTING_PARTITIONS=4\. A position X voting sent before is the watch token P4:X,X,X,X$/,
  );
  assert.equal(
    formatSplit({ ...first, outcome: 'already split' }, 4),
    'voting (ewx_voting) is already split into 4 partition logs: start it with VOTING_PARTITIONS=4',
  );
});
