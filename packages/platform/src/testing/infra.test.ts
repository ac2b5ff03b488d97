import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_DATABASE_URL, DEFAULT_KAFKA_IMAGE, DEFAULT_POSTGRES_IMAGE, dockerEngine, planInfra, realInfra } from './infra.js';

const NONE = (): boolean => false;

describe('test infrastructure: servers or testcontainers', () => {
  it('finds a Docker engine by DOCKER_HOST, else by the first socket that exists, else none', () => {
    assert.equal(dockerEngine({ DOCKER_HOST: 'tcp://10.0.0.1:2375' }, NONE, '/home/u'), 'tcp://10.0.0.1:2375');
    assert.equal(
      dockerEngine({}, (p) => p === '/var/run/docker.sock', '/home/u'),
      'unix:///var/run/docker.sock',
    );
    assert.equal(
      dockerEngine({ XDG_RUNTIME_DIR: '/run/user/1000' }, (p) => p === '/run/user/1000/docker.sock', '/home/u'),
      'unix:///run/user/1000/docker.sock',
    );
    assert.equal(
      dockerEngine({}, (p) => p === '/home/u/.docker/run/docker.sock', '/home/u'),
      'unix:///home/u/.docker/run/docker.sock',
    );
    assert.equal(dockerEngine({}, NONE, '/home/u'), undefined);
  });

  it('without a Docker engine: the named servers, else the local ones', () => {
    assert.deepEqual(planInfra({}, undefined), {
      database: { from: 'server', url: DEFAULT_DATABASE_URL },
      kafka: { from: 'server', brokers: ['127.0.0.1:9092'] },
    });
    assert.deepEqual(planInfra({ DATABASE_URL: 'postgres://x@db:5432/t', KAFKA_BROKERS: 'k1:9092,k2:9092' }, undefined), {
      database: { from: 'server', url: 'postgres://x@db:5432/t' },
      kafka: { from: 'server', brokers: ['k1:9092', 'k2:9092'] },
    });
  });

  it('with a Docker engine: containers for what no variable names, the named server for the rest', () => {
    const docker = 'unix:///var/run/docker.sock';
    assert.deepEqual(planInfra({}, docker), {
      database: { from: 'container', image: DEFAULT_POSTGRES_IMAGE },
      kafka: { from: 'container', image: DEFAULT_KAFKA_IMAGE },
      docker,
    });
    assert.deepEqual(planInfra({ KAFKA_BROKERS: 'k:9092', EWX_POSTGRES_IMAGE: 'postgres:16' }, docker), {
      database: { from: 'container', image: 'postgres:16' },
      kafka: { from: 'server', brokers: ['k:9092'] },
      docker,
    });
  });

  it('EWX_TEST_INFRA forces one side; an unknown value or containers without Docker is an error', () => {
    const docker = 'unix:///var/run/docker.sock';
    const servers = planInfra({ EWX_TEST_INFRA: 'servers' }, docker);
    assert.equal(servers.database.from, 'server');
    assert.equal(servers.kafka.from, 'server');
    const containers = planInfra({ EWX_TEST_INFRA: 'containers', DATABASE_URL: 'postgres://x@db/t' }, docker);
    assert.equal(containers.database.from, 'container');
    assert.equal(containers.kafka.from, 'container');
    assert.throws(() => planInfra({ EWX_TEST_INFRA: 'containers' }, undefined), /EWX_TEST_INFRA=containers but no Docker engine/);
    assert.throws(() => planInfra({ EWX_TEST_INFRA: 'docker' }, docker), /EWX_TEST_INFRA: expected auto, servers or containers, got "docker"/);
  });

  it('the infrastructure the tests get is the one the plan names for this machine', async (t) => {
    const plan = planInfra(process.env, dockerEngine(process.env));
    const { infra, skip } = await realInfra();
    if (skip) {
      t.skip(skip);
      return;
    }
    assert.deepEqual(infra!.source, { database: plan.database.from, kafka: plan.kafka.from });
    if (plan.database.from === 'server') assert.equal(infra!.databaseUrl, plan.database.url);
    if (plan.kafka.from === 'server') assert.deepEqual(infra!.brokers, plan.kafka.brokers);
    t.diagnostic(
      `database: ${infra!.source.database}, Kafka: ${infra!.source.kafka}${plan.docker ? ` (Docker engine ${plan.docker})` : ' (no Docker engine)'}`,
    );
  });
});
