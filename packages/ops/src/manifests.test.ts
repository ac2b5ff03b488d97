/* eslint-disable @typescript-eslint/no-explicit-any */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '@ewx/platform/testing';
import { parseAllDocuments } from 'yaml';
import { checkDeploy, checkSets, findCrdDir, overlayWith, type Rendered } from './check.js';
import { kustomize, KustomizeError, type K8sObject } from './kustomize.js';
import { checkAttestationWindow } from './properties.js';

/** The part of a rendered Deployment these tests read. */
type Pod = { spec: { template: { spec: { volumes: { secret?: { secretName: string } }[]; containers: { env: { name: string }[] }[] } } } };
import { CrdValidator } from './schemas.js';

/** The CRD copies live beside the repository (../shared/crds); EWX_CRD_DIR overrides. */
const crdDir = findCrdDir(REPO_ROOT) ?? '';
const haveCrds = crdDir !== '' && existsSync(crdDir);
if (!haveCrds && process.env.EWX_REQUIRE_INFRA === '1') throw new Error('no CRD schemas in ../shared/crds (set EWX_CRD_DIR)');
const skip = haveCrds ? false : 'no CRD schemas in ../shared/crds (set EWX_CRD_DIR)';

describe('deploy/k8s manifest check', { skip }, () => {
  let crds: CrdValidator;
  let rendered: Rendered[];
  before(() => {
    crds = new CrdValidator(crdDir);
    const r = checkDeploy(REPO_ROOT, crds);
    rendered = r.rendered;
    assert.deepEqual(r.problems, [], 'the real manifests pass every check');
  });
  const objects = (name: string): readonly K8sObject[] => rendered.find((r) => r.name === name)!.objects;
  const byKind = (name: string, kind: string): K8sObject[] => objects(name).filter((o) => o.kind === kind);

  test('base, infra and both overlays render and pass schemas and properties', () => {
    assert.deepEqual(
      rendered.map((r) => r.name),
      ['base', 'infra', 'overlays/dev', 'overlays/prod', 'overlays/dev+voting-replicas', 'overlays/prod+voting-replicas'],
    );
    // Four validators, one key each; a PDB keeping three.
    const validators = byKind('overlays/prod', 'Deployment').filter((d) => d.metadata.labels?.['app.kubernetes.io/name'] === 'consensus');
    assert.equal(validators.length, 4);
    const keys = validators.map((d) =>
      JSON.stringify(
        (d as unknown as Pod).spec.template.spec.volumes.filter((v) => /^ewx-validator-/.test(v.secret?.secretName ?? '')).map((v) => v.secret!.secretName),
      ),
    );
    assert.deepEqual(keys, ['["ewx-validator-0"]', '["ewx-validator-1"]', '["ewx-validator-2"]', '["ewx-validator-3"]']);
    assert.equal((byKind('overlays/prod', 'PodDisruptionBudget')[0] as unknown as { spec: { minAvailable: number } }).spec.minAvailable, 3);
    // Prod: Strimzi and CNPG objects, an ingress, secrets only by reference; dev: generated Secrets.
    for (const kind of ['Kafka', 'KafkaNodePool', 'Cluster', 'Ingress']) assert.ok(byKind('overlays/prod', kind).length > 0, kind);
    assert.equal(byKind('overlays/prod', 'KafkaTopic').length, 5);
    assert.equal(byKind('overlays/prod', 'KafkaUser').length, 5);
    assert.equal(byKind('overlays/prod', 'Database').length, 5);
    assert.equal(byKind('overlays/prod', 'Secret').length, 0);
    assert.ok(byKind('overlays/prod', 'ExternalSecret').length >= 11);
    assert.equal(byKind('base', 'Secret').length, 0);
    assert.equal(byKind('overlays/dev', 'Secret').length, 11);
    // Prod serves gRPC over TLS in every server.
    for (const d of byKind('overlays/prod', 'Deployment').filter((x) => x.metadata.labels?.['ewx.io/store-client'] === 'true')) {
      const env = (d as unknown as Pod).spec.template.spec.containers[0]!.env.map((e) => e.name);
      assert.ok(env.includes('GRPC_TLS_CERT_FILE') && env.includes('GRPC_TLS_KEY_FILE'), d.metadata.name);
    }
  });

  test('components/voting-replicas: voting as a StatefulSet of 2 sharing 8 partitions, reachable by name, the rest of the pod unchanged', () => {
    type Workload = {
      spec: {
        replicas: number;
        serviceName?: string;
        strategy?: unknown;
        template: { spec: { containers: { image: string; env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[] }[] } };
      };
    };
    const set = 'overlays/dev+voting-replicas';
    const voting = objects(set).filter((o) => o.metadata.name === 'voting' && ['Deployment', 'StatefulSet'].includes(o.kind));
    assert.deepEqual(
      voting.map((o) => o.kind),
      ['StatefulSet'],
    );
    const sts = voting[0] as unknown as Workload;
    assert.equal(sts.spec.replicas, 2);
    assert.equal(sts.spec.serviceName, 'voting-replicas');
    assert.equal(sts.spec.strategy, undefined);
    const env = sts.spec.template.spec.containers[0]!.env;
    assert.deepEqual(
      env.slice(0, 4).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]),
      [
        ['POD_NAME', 'metadata.name'],
        ['POD_NAMESPACE', 'metadata.namespace'],
        ['VOTING_ADVERTISE_ADDRESS', '$(POD_NAME).voting-replicas.$(POD_NAMESPACE).svc:50051'],
        ['VOTING_REPLICA_ID', '$(POD_NAME)'],
      ],
    );
    const config = objects(set).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'ewx-config') as unknown as { data: Record<string, string> };
    assert.equal(config.data.VOTING_PARTITIONS, '8');
    const headless = objects(set).find((o) => o.kind === 'Service' && o.metadata.name === 'voting-replicas') as unknown as { spec: { clusterIP: string } };
    assert.equal(headless.spec.clusterIP, 'None');
    assert.ok(objects(set).some((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'voting'));
    assert.ok(objects(set).some((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'ewx-voting-peers'));
    // Apart from the four variables, the pod is the one the dev overlay runs (same image, probes, mounts).
    const single = objects('overlays/dev').find((o) => o.kind === 'Deployment' && o.metadata.name === 'voting') as unknown as Workload;
    const podOf = (w: Workload, drop: number) => {
      const t = structuredClone(w.spec.template) as Workload['spec']['template'];
      t.spec.containers[0]!.env = t.spec.containers[0]!.env.slice(drop);
      return t;
    };
    assert.deepEqual(podOf(sts, 4), podOf(single, 0));
    // Everything else is the dev overlay's, plus the three new objects.
    const ids = (name: string) => objects(name).map((o) => `${o.kind}/${o.metadata.name}`);
    assert.deepEqual(
      ids(set)
        .filter((i) => !ids('overlays/dev').includes(i))
        .sort(),
      ['NetworkPolicy/ewx-voting-peers', 'PodDisruptionBudget/voting', 'Service/voting-replicas', 'StatefulSet/voting'],
    );
  });

  test('components/voting-replicas with the prod overlay: replicas serve TLS and forward to each other over TLS, under the name voting', () => {
    type Env = { name: string; value?: string }[];
    const sts = objects('overlays/prod+voting-replicas').find((o) => o.kind === 'StatefulSet') as unknown as Pod;
    const env = sts.spec.template.spec.containers[0]!.env as Env;
    const value = (n: string) => env.find((e) => e.name === n)?.value;
    // The prod TLS patch reaches the StatefulSet too (it targets every store client, whatever its kind).
    assert.equal(value('GRPC_TLS_CERT_FILE'), '/var/run/secrets/ewx/grpc-tls/tls.crt');
    assert.equal(value('GRPC_CLIENT_TLS_CA_FILE'), '/var/run/secrets/ewx/grpc-tls/ca.crt');
    assert.equal(value('VOTING_FORWARD_TLS_NAME'), 'voting');
    assert.ok(sts.spec.template.spec.volumes.some((v) => v.secret?.secretName === 'ewx-grpc-tls'));
  });

  test('the block clock: runs of BLOCK_RUN_MAX > 1, and every service that reads the height lists each validator’s own Service in place order (over TLS in prod)', () => {
    type Env = { name: string; value?: string }[];
    for (const set of ['overlays/dev', 'overlays/prod']) {
      const config = objects(set).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'ewx-config') as unknown as { data: Record<string, string> };
      assert.ok(Number(config.data.BLOCK_RUN_MAX) > 1, `${set}: BLOCK_RUN_MAX ${config.data.BLOCK_RUN_MAX}`);
      assert.equal(config.data.CONSENSUS_ADDRESS, 'consensus-0:50051,consensus-1:50051,consensus-2:50051,consensus-3:50051');
      const services = objects(set).filter((o) => o.kind === 'Service' && /^consensus-\d$/.test(o.metadata.name)) as unknown as {
        metadata: { name: string };
        spec: { selector: Record<string, string> };
      }[];
      assert.deepEqual(
        services.map((x) => [x.metadata.name, x.spec.selector['ewx.io/validator']]),
        [
          ['consensus-0', '0'],
          ['consensus-1', '1'],
          ['consensus-2', '2'],
          ['consensus-3', '3'],
        ],
      );
    }
    for (const name of ['registry', 'voting', 'rewards', 'distance']) {
      const d = objects('overlays/prod').find((o) => o.kind === 'Deployment' && o.metadata.name === name) as unknown as Pod;
      const env = d.spec.template.spec.containers[0]!.env as Env;
      assert.equal(env.find((e) => e.name === 'GRPC_CLIENT_TLS_CA_FILE')?.value, '/var/run/secrets/ewx/grpc-tls/ca.crt', name);
    }
  });

  test('an overlay refuses to render without its keys (nothing committed stands in for them)', () => {
    assert.throws(
      () => kustomize(join(REPO_ROOT, 'deploy/k8s/overlays/dev')),
      (e) => e instanceof KustomizeError && /secrets\/network\.env|does not exist/.test(e.message),
    );
    assert.throws(
      () => kustomize(join(REPO_ROOT, 'deploy/k8s/overlays/prod')),
      (e) => e instanceof KustomizeError && /network\.env/.test(e.message),
    );
  });

  test('the renderer refuses what it does not implement', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ewx-kz-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(join(REPO_ROOT, 'packages/ops/fixtures/k8s/placeholder/kustomization.yaml'), join(dir, 'kustomization.yaml'));
    const text = readFileSync(join(dir, 'kustomization.yaml'), 'utf8').replace(/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\//g, `${REPO_ROOT}/`) + 'commonLabels: { a: b }\n';
    writeFileSync(join(dir, 'kustomization.yaml'), text);
    assert.throws(() => kustomize(dir), /unsupported field commonLabels/);
    // A component is applied through `components:`, never rendered as a resource.
    writeFileSync(join(dir, 'kustomization.yaml'), `resources:\n  - ${REPO_ROOT}/deploy/k8s/components/voting-replicas\n`);
    assert.throws(() => kustomize(dir), /is a Component, expected a Kustomization/);
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  test('kubectl kustomize renders the same objects (where kubectl exists)', { skip: kubectl ? false : 'no kubectl on this machine' }, () => {
    const work = mkdtempSync(join(tmpdir(), 'ewx-kz-'));
    after(() => rmSync(work, { recursive: true, force: true }));
    cpSync(join(REPO_ROOT, 'deploy/k8s'), work, { recursive: true });
    const secrets = join(work, 'overlays/dev/secrets');
    assert.equal(spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/dev-secrets.mjs'), secrets]).status, 0);
    cpSync(join(secrets, 'network.env'), join(work, 'overlays/prod/network.env'));
    overlayWith(work, 'overlays/dev', 'voting-replicas');
    overlayWith(work, 'overlays/prod', 'voting-replicas');
    // Key order and base64 line folding aside, the objects must be equal.
    const canon = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(canon)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
            )
          : typeof v === 'string' && /^[A-Za-z0-9+/=\s]+$/.test(v) && /\n/.test(v)
            ? v.replace(/\s/g, '')
            : v;
    const key = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    for (const d of ['base', 'infra', 'overlays/dev', 'overlays/prod', 'overlays/dev+voting-replicas', 'overlays/prod+voting-replicas']) {
      const out = spawnSync('kubectl', ['kustomize', join(work, d)], { encoding: 'utf8', maxBuffer: 64 << 20 });
      assert.equal(out.status, 0, out.stderr);
      const theirs = new Map(
        parseAllDocuments(out.stdout)
          .map((x) => x.toJS() as K8sObject)
          .map((o) => [key(o), JSON.stringify(canon(o))]),
      );
      const mine = new Map(kustomize(join(work, d)).map((o) => [key(o), JSON.stringify(canon(o))]));
      assert.deepEqual([...mine.keys()].sort(), [...theirs.keys()].sort(), `${d}: the same objects`);
      for (const [k, v] of mine) assert.equal(v, theirs.get(k), `${d}: ${k}`);
    }
  });

  test('every planted mistake fails the check, with the problem it plants', () => {
    const root = join(REPO_ROOT, 'packages/ops/fixtures/k8s');
    const cases = readdirSync(root).sort();
    assert.ok(cases.length >= 10);
    const sets = cases.map((c) => ({ name: c, objects: kustomize(join(root, c)), profile: 'full' as const }));
    const problems = checkSets(sets, crds);
    for (const c of cases) {
      const expect = /must fail with: (.*)$/m.exec(readFileSync(join(root, c, 'kustomization.yaml'), 'utf8'))![1]!.trim();
      const mine = problems.filter((p) => p.startsWith(`${c}: `));
      assert.ok(
        mine.some((p) => p.includes(expect)),
        `${c}: expected a problem containing "${expect}", got ${JSON.stringify(mine)}`,
      );
    }
  });
});

test('monitoring drafts: every metric they use is one docs/OPERATIONS.md proposes', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs/OPERATIONS.md'), 'utf8');
  const proposed = new Set([...doc.matchAll(/\| `(ewx_[a-z_]+)/g)].map((m) => m[1]!));
  assert.ok(proposed.size >= 8);
  const rules = parseAllDocuments(readFileSync(join(REPO_ROOT, 'deploy/monitoring/prometheus-rules.yaml'), 'utf8'))[0]!.toJS() as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy/monitoring/grafana-dashboard.json'), 'utf8')) as {
    panels: { targets: { expr: string }[] }[];
  };
  const exprs = [...rules.groups.flatMap((g) => g.rules.map((r) => r.expr)), ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))];
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
  for (const a of ['EwxRelayLag', 'EwxConsumerLagGrowing', 'EwxRoundsStuckInOffChainVote', 'EwxRewardBudgetExhausted']) assert.ok(alerts.includes(a), a);
  for (const e of exprs) {
    for (const m of e.matchAll(/\b(ewx_[a-z_]+?)(_bucket)?\b/g)) assert.ok(proposed.has(m[1]!), `${m[1]} in ${e} is not among the proposed metrics`);
  }
});

test('ATTESTATION_WINDOW_BLOCKS: whole blocks from 1 to 720000 in every consensus container, from its ConfigMap or its own env', () => {
  const set = (fromConfig: string | undefined, own?: string): K8sObject[] =>
    [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'ewx-config' },
        data: fromConfig === undefined ? {} : { ATTESTATION_WINDOW_BLOCKS: fromConfig },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'consensus-0' },
        spec: {
          template: {
            metadata: { labels: { 'app.kubernetes.io/name': 'consensus' } },
            spec: {
              containers: [
                {
                  name: 'consensus',
                  envFrom: [{ configMapRef: { name: 'ewx-config' } }],
                  env: own === undefined ? [] : [{ name: 'ATTESTATION_WINDOW_BLOCKS', value: own }],
                },
              ],
            },
          },
        },
      },
    ] as unknown as K8sObject[];
  for (const ok of [undefined, '1', '7200', '720000']) assert.deepEqual(checkAttestationWindow(set(ok)), [], String(ok));
  for (const bad of ['0', '720001', '7200.5', '-1', '', '1e3'])
    assert.deepEqual(checkAttestationWindow(set(bad)), [
      `Deployment/consensus-0 container consensus: ATTESTATION_WINDOW_BLOCKS ${JSON.stringify(bad)} is not a whole number of blocks from 1 to 720000 (consensus refuses to start)`,
    ]);
  // The container's own env wins over the ConfigMap, as in the kubelet.
  assert.equal(checkAttestationWindow(set('7200', '0')).length, 1);
  assert.deepEqual(checkAttestationWindow(set('0', '7200')), []);
});
