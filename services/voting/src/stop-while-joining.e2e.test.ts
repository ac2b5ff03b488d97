import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { generateKeyPair, inboxGroupOf, kafkaBus, silentLogger } from '@ewx/platform';
import { busyMember, describeGroup, freePort, realInfra, serviceEnv, spawnServiceProcess, uniqueNamespace, waitFor } from '@ewx/platform/testing';

/**
 * A standalone service (rewards, and voting with two partitions, each as its own process on the real Kafka and PostgreSQL) stopped
 * with SIGTERM while its inbox's JoinGroup is held by the broker: the stop aborts the start, waits
 * for the join to end, and the consumer leaves its group before the process exits (exit 0). Before,
 * the process exited with the join in flight and left a member in the group until its session
 * timed out (30 s here), holding up the next process's start.
 */
const { infra, skip } = await realInfra();

describe('standalone service: SIGTERM while its inbox joins its consumer group', { skip, timeout: 180_000 }, () => {
  const closing: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const c of closing.reverse()) await c.close();
  });

  for (const { service, instance, env } of [
    { service: 'rewards', instance: 'rewards', env: {} },
    // Partition 0's join is held; partition 1 starts meanwhile. The stop aborts the partitions' start.
    { service: 'voting', instance: 'voting_p0', env: { VOTING_PARTITIONS: '2' } },
  ])
    test(`${service}${service === 'voting' ? ' (2 partitions)' : ''}: the stop waits for the held join, leaves the group and exits 0: no member of the stopped process is left`, async () => {
      const ns = uniqueNamespace('stopjoin');
      const group = inboxGroupOf(instance, ns);
      const topic = `${ns}.ewx.registry.events.v1`;
      // Another member of the service's inbox group (voting: partition 0's), busy with a message until released: a new member's
      // JoinGroup is held by the broker until this one rejoins.
      const other = kafkaBus({ brokers: infra!.brokers, clientId: 'stop-join-other', log: silentLogger });
      closing.push(other);
      const { release } = await busyMember(other, group, topic);
      closing.push({ close: async () => release() });

      const proc = spawnServiceProcess(
        service,
        await freePort(),
        serviceEnv(infra!, ns, generateKeyPair().address, { LOG_LEVEL: 'info', KAFKA_SESSION_TIMEOUT_MS: '30000', ...env }),
      );
      closing.push({ close: () => proc.kill() });
      const exited = new Promise<number | null>((r) => proc.child.once('exit', (code) => r(code)));
      await waitFor(
        "the process's JoinGroup held by the broker",
        async () => ((await describeGroup(infra!.brokers, group)).state === 'PreparingRebalance' ? true : undefined),
        60_000,
        50,
      );
      proc.child.kill('SIGTERM');
      await waitFor('the process to begin its stop', () => (/SIGTERM: stopping/.test(proc.output()) ? true : undefined), 10_000, 20);
      // The held join ends once the other member rejoins; the stopping process then leaves at once.
      release();
      assert.equal(await exited, 0, `a clean stop: ${proc.output().slice(-1500)}`);
      assert.match(proc.output(), /inbox: start aborted, no member left in the consumer group/);
      // Before its session timeout (30 s) could drop a leftover member, the group holds the other member alone.
      const settled = await waitFor(
        'the group to settle after the stop',
        async () => {
          const g = await describeGroup(infra!.brokers, group);
          return g.state === 'Stable' ? g : undefined;
        },
        20_000,
        100,
      );
      assert.equal(settled.members.length, 1, `only the other member is left: ${JSON.stringify(settled)}`);
    });
});
