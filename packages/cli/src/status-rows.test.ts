import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServiceStatus } from '@ewx/proto/common';
import { statusRows } from './commands/reads.js';
import { table } from './output.js';

test("ewx status: a partitioned voting's row names its partition count, then one row per partition log with its height, position and replica", () => {
  const single = (service: string, height: bigint, logPosition: bigint): ServiceStatus => ({
    service,
    height,
    logPosition,
    position: `${logPosition}`,
    partitions: [],
    countedHeight: 0n,
  });
  const voting: ServiceStatus = {
    service: 'voting_p0',
    height: 7n,
    logPosition: 40n,
    position: 'P2:40,33',
    countedHeight: 0n,
    partitions: [
      { partition: 0, log: 'voting_p0', owner: 'a', height: 7n, logPosition: 40n, position: '40' },
      { partition: 1, log: 'voting_p1', owner: '', height: 9n, logPosition: 33n, position: '33' },
    ],
  };
  assert.equal(
    table(statusRows([single('registry', 9n, 120n), voting, single('consensus', 9n, 15n)])),
    [
      'SERVICE                  HEIGHT  LOG_POSITION',
      'registry                 9       120',
      'voting (2 partitions)    7       40',
      '  voting_p0 (replica a)  7       40',
      '  voting_p1              9       33',
      'consensus                9       15',
    ].join('\n'),
  );
  // One log (the usual voting, every other service): one row, as before.
  assert.deepEqual(statusRows([single('voting', 3n, 8n)]), [{ service: 'voting', height: 3n, log_position: 8n }]);
});

test("ewx status: consensus's producer that counted blocks it has not recorded yet says how far it counted", () => {
  const consensus = (height: bigint, countedHeight: bigint): ServiceStatus => ({
    service: 'consensus',
    height,
    logPosition: 15n,
    position: '15',
    partitions: [],
    countedHeight,
  });
  assert.equal(statusRows([consensus(1_200n, 1_234n)])[0]!.service, 'consensus (counted to 1234)');
  // Nothing counted beyond the recorded height, or not the producer (0): the plain name.
  assert.equal(statusRows([consensus(1_200n, 1_200n)])[0]!.service, 'consensus');
  assert.equal(statusRows([consensus(1_200n, 0n)])[0]!.service, 'consensus');
});
