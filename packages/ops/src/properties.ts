import type { K8sObject } from './kustomize.js';

/* The properties issue 14 asks of the manifests, checked on rendered objects. */

// biome-ignore lint/suspicious/noExplicitAny: walks arbitrary rendered Kubernetes YAML
type Obj = Record<string, any>;

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);
/** Volume types the Pod Security "restricted" profile allows. */
const RESTRICTED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
const VALIDATOR_SECRET = /^ewx-validator-\d+$/;

/** A container's gRPC port: the one named `grpc`, else the services' default 50051. */
const grpcPortOf = (c: Obj): number => (((c.ports ?? []) as Obj[]).find((p) => p.name === 'grpc')?.containerPort ?? 50051) as number;

const podOf = (o: K8sObject): { spec: Obj; labels: Record<string, string> } | undefined =>
  WORKLOADS.has(o.kind) ? { spec: (o as Obj).spec.template.spec, labels: (o as Obj).spec.template.metadata?.labels ?? {} } : undefined;

const replicasOf = (o: K8sObject): number => ((o as Obj).spec?.replicas ?? 1) as number;

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Pod Security "restricted", plus what the project adds (read-only root, /tmp emptyDir, no token, no secret envFrom). */
export function checkPodSecurity(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const accounts = new Map(objects.filter((o) => o.kind === 'ServiceAccount').map((o) => [o.metadata.name, o as Obj]));
  for (const o of objects) {
    const pod = podOf(o);
    if (!pod) continue;
    const id = `${o.kind}/${o.metadata.name}`;
    const p = pod.spec;
    const psc: Obj = p.securityContext ?? {};
    for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) if (p[k]) problems.push(`${id}: ${k}`);
    if (psc.runAsUser === 0) problems.push(`${id}: pod runAsUser 0`);
    if (p.automountServiceAccountToken !== false) problems.push(`${id}: automountServiceAccountToken is not false`);
    const sa = p.serviceAccountName as string | undefined;
    if (!sa || sa === 'default') problems.push(`${id}: no ServiceAccount of its own`);
    else if (!accounts.has(sa)) problems.push(`${id}: ServiceAccount ${sa} is not declared`);
    else if (accounts.get(sa)!.automountServiceAccountToken !== false) problems.push(`ServiceAccount/${sa}: automountServiceAccountToken is not false`);
    for (const v of (p.volumes ?? []) as Obj[]) {
      const type = Object.keys(v).find((k) => k !== 'name');
      if (!type || !RESTRICTED_VOLUMES.has(type)) problems.push(`${id}: volume ${v.name} of type ${type} is not allowed by the restricted profile`);
    }
    const containers = [...(p.initContainers ?? []), ...(p.containers ?? [])] as Obj[];
    for (const c of containers) {
      const cid = `${id} container ${c.name}`;
      const sc: Obj = c.securityContext ?? {};
      if (sc.privileged === true) problems.push(`${cid}: privileged`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${cid}: allowPrivilegeEscalation is not false`);
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${cid}: capabilities do not drop ALL`);
      if ((sc.capabilities?.add ?? []).length > 0) problems.push(`${cid}: adds capabilities ${sc.capabilities.add.join(',')}`);
      if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) problems.push(`${cid}: runAsNonRoot is not true`);
      if ((sc.runAsUser ?? psc.runAsUser) === 0) problems.push(`${cid}: runs as uid 0`);
      const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${cid}: seccompProfile is not RuntimeDefault`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${cid}: readOnlyRootFilesystem is not true`);
      const tmp = ((c.volumeMounts ?? []) as Obj[]).find((m) => m.mountPath === '/tmp');
      if (!tmp || !((p.volumes ?? []) as Obj[]).some((v) => v.name === tmp.name && v.emptyDir)) problems.push(`${cid}: no emptyDir at /tmp`);
      for (const port of (c.ports ?? []) as Obj[]) if (port.hostPort) problems.push(`${cid}: hostPort ${port.hostPort}`);
      for (const e of (c.envFrom ?? []) as Obj[])
        if (e.secretRef) problems.push(`${cid}: envFrom a whole Secret (${e.secretRef.name}); mount the one key it needs`);
      if (typeof c.image !== 'string' || !/[:@]/.test(c.image) || /:latest$/.test(c.image))
        problems.push(`${cid}: image ${c.image} has no fixed tag or digest`);
      if (!c.resources?.requests || !c.resources?.limits?.memory) problems.push(`${cid}: no resource requests and memory limit`);
    }
    for (const c of (p.containers ?? []) as Obj[]) {
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) if (!c[probe]) problems.push(`${id} container ${c.name}: no ${probe}`);
    }
  }
  return problems;
}

/**
 * The validators: `count` of them (one pod each), each mounting exactly one validator key (its
 * own, as a file, and the only one), no key shared, no validator key anywhere else, and a
 * PodDisruptionBudget that keeps more than two thirds of them.
 */
export function checkValidators(objects: readonly K8sObject[], count = 4): string[] {
  const problems: string[] = [];
  const validators = objects.filter((o) => podOf(o)?.labels['app.kubernetes.io/name'] === 'consensus');
  const pods = validators.reduce((n, o) => n + replicasOf(o), 0);
  if (pods !== count) problems.push(`validators: ${pods} validator pods, expected ${count}`);
  const used = new Map<string, string>();
  for (const o of objects) {
    const pod = podOf(o);
    if (!pod) continue;
    const id = `${o.kind}/${o.metadata.name}`;
    const isValidator = validators.includes(o);
    const secretVolumes = ((pod.spec.volumes ?? []) as Obj[]).filter((v) => v.secret && VALIDATOR_SECRET.test(v.secret.secretName));
    const projected = ((pod.spec.volumes ?? []) as Obj[]).flatMap((v) =>
      ((v.projected?.sources ?? []) as Obj[]).filter((s) => s.secret && VALIDATOR_SECRET.test(s.secret.name)),
    );
    const envRefs = ((pod.spec.containers ?? []) as Obj[]).flatMap((c) => [
      ...((c.env ?? []) as Obj[]).filter((e) => VALIDATOR_SECRET.test(e.valueFrom?.secretKeyRef?.name ?? '')),
      ...((c.envFrom ?? []) as Obj[]).filter((e) => VALIDATOR_SECRET.test(e.secretRef?.name ?? '')),
    ]);
    if (envRefs.length > 0) problems.push(`${id}: validator key in the environment (mount it as a file)`);
    if (projected.length > 0) problems.push(`${id}: validator key in a projected volume`);
    if (!isValidator) {
      if (secretVolumes.length > 0)
        problems.push(`${id}: mounts validator key ${secretVolumes.map((v) => v.secret.secretName).join(',')} but is not a validator`);
      continue;
    }
    if (replicasOf(o) !== 1) problems.push(`${id}: ${replicasOf(o)} replicas share one validator key`);
    if (secretVolumes.length !== 1) {
      problems.push(`${id}: mounts ${secretVolumes.length} validator keys, expected exactly its own`);
      continue;
    }
    const vol = secretVolumes[0]!;
    const name = vol.secret.secretName as string;
    if (used.has(name)) problems.push(`${id}: validator key ${name} is also mounted by ${used.get(name)}`);
    used.set(name, id);
    const items = (vol.secret.items ?? []) as Obj[];
    if (items.length !== 1) problems.push(`${id}: the validator key volume should project exactly one item (the seed)`);
    const mounts = ((pod.spec.containers ?? []) as Obj[]).flatMap((c) =>
      ((c.volumeMounts ?? []) as Obj[]).filter((m) => m.name === vol.name).map((m) => ({ c, m })),
    );
    const fileEnv = mounts.some(({ c, m }) =>
      ((c.env ?? []) as Obj[]).some((e) => e.name === 'VALIDATOR_KEY_FILE' && String(e.value).startsWith(`${m.mountPath}/`)),
    );
    if (!fileEnv) problems.push(`${id}: VALIDATOR_KEY_FILE does not point into its key's mount`);
  }
  const pdbs = objects.filter(
    (o) => o.kind === 'PodDisruptionBudget' && validators.some((v) => selects((o as Obj).spec?.selector?.matchLabels, podOf(v)!.labels)),
  );
  const keep = Math.floor((2 * count) / 3) + 1;
  if (pdbs.length === 0) problems.push('validators: no PodDisruptionBudget selects them');
  for (const pdb of pdbs as Obj[]) {
    const spec = pdb.spec;
    const min = spec.minAvailable !== undefined ? Number(spec.minAvailable) : spec.maxUnavailable !== undefined ? count - Number(spec.maxUnavailable) : 0;
    if (!Number.isInteger(min) || min < keep)
      problems.push(`PodDisruptionBudget/${pdb.metadata.name}: keeps ${min} validators, a round needs ${keep} of ${count}`);
    if (!validators.every((v) => selects(spec.selector?.matchLabels, podOf(v)!.labels)))
      problems.push(`PodDisruptionBudget/${pdb.metadata.name}: does not select every validator`);
  }
  const network = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'ewx-network') as Obj | undefined;
  if (network) {
    const listed = String(network.data?.VALIDATORS ?? '')
      .split(',')
      .filter(Boolean);
    if (listed.length !== count) problems.push(`ConfigMap/ewx-network: VALIDATORS lists ${listed.length} addresses, expected ${count}`);
  }
  return problems;
}

/** Namespace enforcement, default-deny NetworkPolicy, Services that select something, no committed secret values. */
export function checkNamespaceAndNetwork(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const ns = objects.filter((o) => o.kind === 'Namespace');
  for (const n of ns)
    if (n.metadata.labels?.['pod-security.kubernetes.io/enforce'] !== 'restricted')
      problems.push(`Namespace/${n.metadata.name}: Pod Security "restricted" is not enforced`);
  const pods = objects.map(podOf).filter((p): p is NonNullable<ReturnType<typeof podOf>> => p !== undefined);
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as Obj[];
  const denyAll = policies.find(
    (p) => (p.spec.policyTypes ?? []).includes('Ingress') && (p.spec.policyTypes ?? []).includes('Egress') && !p.spec.ingress && !p.spec.egress,
  );
  if (!denyAll) problems.push('NetworkPolicy: no default deny (Ingress and Egress, no rules)');
  else
    for (const p of pods) {
      const sel = denyAll.spec.podSelector?.matchLabels;
      if (sel && !selects(sel, p.labels)) problems.push(`NetworkPolicy/${denyAll.metadata.name}: does not cover pods labelled ${JSON.stringify(p.labels)}`);
    }
  for (const s of objects.filter((o) => o.kind === 'Service') as Obj[]) {
    if (!pods.some((p) => selects(s.spec.selector, p.labels))) problems.push(`Service/${s.metadata.name}: selects no pod`);
  }
  const text = JSON.stringify(objects);
  const placeholder = /REPLACE|CHANGEME|CHANGE_ME|<[a-z ]+>|TODO/.exec(text);
  if (placeholder) problems.push(`a placeholder value is rendered: ${placeholder[0]}`);
  return problems;
}

/** What the prod overlay declares: Strimzi Kafka, node pool, a topic and a user per service; CNPG cluster, a role and database per service; an ingress. */
export function checkProdInfrastructure(objects: readonly K8sObject[], services: readonly string[], ingress = true): string[] {
  const problems: string[] = [];
  const of = (kind: string): Obj[] => objects.filter((o) => o.kind === kind) as Obj[];
  if (of('Kafka').length !== 1) problems.push('Strimzi: expected one Kafka');
  if (of('KafkaNodePool').length === 0) problems.push('Strimzi: no KafkaNodePool');
  const topics = new Set(of('KafkaTopic').map((t) => t.spec.topicName ?? t.metadata.name));
  const users = new Map(of('KafkaUser').map((u) => [u.metadata.name as string, u]));
  const cluster = of('Cluster')[0];
  const roles = new Set(((cluster?.spec.managed?.roles ?? []) as Obj[]).map((r) => r.name));
  const dbs = new Map(of('Database').map((d) => [d.spec.name as string, d]));
  if (!cluster) problems.push('CloudNativePG: no Cluster');
  for (const s of services) {
    if (!topics.has(`ewx.${s}.events.v1`)) problems.push(`Strimzi: no KafkaTopic ewx.${s}.events.v1`);
    const u = users.get(`ewx-${s}`);
    if (!u) problems.push(`Strimzi: no KafkaUser ewx-${s}`);
    else if (
      !((u.spec.authorization?.acls ?? []) as Obj[]).some(
        (a) => a.resource.type === 'topic' && a.resource.name === `ewx.${s}.events.v1` && a.operations.includes('Write'),
      )
    )
      problems.push(`KafkaUser/ewx-${s}: may not write its topic`);
    if (!roles.has(s)) problems.push(`CloudNativePG: no role ${s}`);
    if (dbs.get(s)?.spec.owner !== s) problems.push(`CloudNativePG: no Database ${s} owned by ${s}`);
  }
  if (ingress && of('Ingress').length === 0) problems.push('no Ingress for external gRPC clients');
  return problems;
}

/** A container's environment as the kubelet builds it: envFrom ConfigMaps (in order), then env. */
const envOf = (c: Obj, objects: readonly K8sObject[]): Map<string, Obj> => {
  const env = new Map<string, Obj>();
  for (const e of (c.envFrom ?? []) as Obj[]) {
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === e.configMapRef?.name) as Obj | undefined;
    for (const [k, v] of Object.entries((cm?.data ?? {}) as Record<string, string>)) env.set(k, { name: k, value: v });
  }
  for (const e of (c.env ?? []) as Obj[]) env.set(e.name, e);
  return env;
};

/** Whether some NetworkPolicy lets pods labelled `from` reach pods labelled `to` on `port` (number or name), in direction `dir`. */
const allows = (
  policies: readonly Obj[],
  dir: 'Ingress' | 'Egress',
  from: Record<string, string>,
  to: Record<string, string>,
  port: number,
  portName: string,
): boolean =>
  policies.some((p) => {
    const self = dir === 'Ingress' ? to : from;
    const peer = dir === 'Ingress' ? from : to;
    if (!(p.spec.policyTypes ?? []).includes(dir) || !selects(p.spec.podSelector?.matchLabels, self)) return false;
    const rules = (dir === 'Ingress' ? p.spec.ingress : p.spec.egress) as Obj[] | undefined;
    return (rules ?? []).some(
      (r) =>
        ((dir === 'Ingress' ? r.from : r.to) as Obj[] | undefined)?.some((x) => !x.namespaceSelector && selects(x.podSelector?.matchLabels, peer)) &&
        ((r.ports ?? []) as Obj[]).some((x) => x.port === port || x.port === portName),
    );
  });

/**
 * Voting's writers. Unpartitioned (VOTING_PARTITIONS unset or 1): one process, a Deployment of one
 * replica with the Recreate strategy (a rolling update would run two writers on one log).
 * Partitioned (deploy/k8s/components/voting-replicas): a StatefulSet whose replicas share the
 * partition logs through leases and forward to each other, so it needs each replica's address
 * (VOTING_ADVERTISE_ADDRESS = its name under the headless Service, on the gRPC port), an id of
 * its own (VOTING_REPLICA_ID unset, or the pod name: a process takes back the partitions leased
 * under its id, so one id for every replica is refused), a PodDisruptionBudget, a NetworkPolicy from
 * voting to voting, and, when it serves TLS, the client TLS settings it forwards to the other
 * replicas with (GRPC_CLIENT_TLS_CA_FILE, a client certificate if client certificates are
 * required, VOTING_FORWARD_TLS_NAME: services/voting/src/app/router.ts).
 */
export function checkVoting(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const workloads = objects.filter((o) => podOf(o)?.labels['app.kubernetes.io/name'] === 'voting') as Obj[];
  if (workloads.length !== 1) return [`voting: ${workloads.length} workloads run it, expected one (a Deployment, or the StatefulSet of partitioned voting)`];
  const w = workloads[0]!;
  const id = `${w.kind}/${w.metadata.name}`;
  const labels = podOf(w as K8sObject)!.labels;
  const pods = replicasOf(w as K8sObject);
  const c = (((w.spec.template.spec.containers ?? []) as Obj[]).find((x) => x.name === 'voting') ?? w.spec.template.spec.containers[0]) as Obj;
  const env = envOf(c, objects);
  const raw = env.get('VOTING_PARTITIONS')?.value as string | undefined;
  const partitions = raw === undefined ? 1 : Number(raw);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 64) {
    problems.push(`${id}: VOTING_PARTITIONS ${raw} is not an integer from 1 to 64`);
    return problems;
  }
  if (partitions === 1) {
    if (pods !== 1) problems.push(`${id}: ${pods} voting replicas without VOTING_PARTITIONS > 1 (one log has one writer)`);
    if (w.kind === 'Deployment' && w.spec.strategy?.type !== 'Recreate')
      problems.push(`${id}: strategy is not Recreate (a rolling update runs two writers on one log; only partitioned voting runs several)`);
    return problems;
  }
  if (w.kind !== 'StatefulSet') problems.push(`${id}: partitioned voting runs as a StatefulSet (components/voting-replicas), not a ${w.kind}`);
  // VOTING_REPLICA_ID: unset (host name + a suffix new at every start) or the pod's own name (a
  // restarted pod takes back its leases at once); one value for every replica would be one writer's id on all.
  const podNameVar = [...env.values()].find((e) => e.name !== 'VOTING_REPLICA_ID' && e.valueFrom?.fieldRef?.fieldPath === 'metadata.name')?.name as
    | string
    | undefined;
  const replicaId = env.get('VOTING_REPLICA_ID');
  if (
    replicaId !== undefined &&
    replicaId.valueFrom?.fieldRef?.fieldPath !== 'metadata.name' &&
    (podNameVar === undefined || replicaId.value !== `$(${podNameVar})`)
  )
    problems.push(
      `${id}: VOTING_REPLICA_ID is ${replicaId.value === undefined ? 'not the pod name' : `${JSON.stringify(replicaId.value)}, the same for every replica`}; set it to the pod's name (fieldRef metadata.name) or leave it unset`,
    );
  // Over TLS, a replica forwards to another with the internal clients' settings (GRPC_CLIENT_TLS_*).
  if (env.has('GRPC_TLS_CERT_FILE')) {
    if (!env.has('GRPC_CLIENT_TLS_CA_FILE') && env.get('GRPC_CLIENT_TLS')?.value !== '1')
      problems.push(
        `${id}: serves gRPC over TLS, but its replicas would forward to each other in plaintext: set GRPC_CLIENT_TLS_CA_FILE (the CA of the replicas' certificate)`,
      );
    if (env.has('GRPC_TLS_CLIENT_CA_FILE') && !env.has('GRPC_CLIENT_TLS_CERT_FILE'))
      problems.push(
        `${id}: requires client certificates (GRPC_TLS_CLIENT_CA_FILE), but its replicas present none to each other: set GRPC_CLIENT_TLS_CERT_FILE and _KEY_FILE`,
      );
    if (!env.has('VOTING_FORWARD_TLS_NAME'))
      problems.push(
        `${id}: serves gRPC over TLS without VOTING_FORWARD_TLS_NAME: a replica would check the other's certificate under its pod DNS name; set a name the certificate has (e.g. voting)`,
      );
  }
  const grpcPort = grpcPortOf(c);
  const address = env.get('VOTING_ADVERTISE_ADDRESS')?.value as string | undefined;
  if (address === undefined) problems.push(`${id}: no VOTING_ADVERTISE_ADDRESS (where the other replicas forward requests to)`);
  else if (!address.endsWith(`:${grpcPort}`)) problems.push(`${id}: VOTING_ADVERTISE_ADDRESS ${address} is not on the gRPC port ${grpcPort}`);
  if (w.kind === 'StatefulSet') {
    const name = w.spec.serviceName as string | undefined;
    const headless = objects.find((o) => o.kind === 'Service' && o.metadata.name === name) as Obj | undefined;
    if (headless?.spec.clusterIP !== 'None' || !selects(headless?.spec.selector, labels))
      problems.push(`${id}: serviceName ${name} is not a headless Service selecting the voting pods`);
    else if (headless.spec.publishNotReadyAddresses !== true)
      problems.push(`Service/${name}: publishNotReadyAddresses is not true (a lease holder is forwarded to whatever its readiness)`);
    if (address !== undefined && (podNameVar === undefined || !address.startsWith(`$(${podNameVar}).${name}.`)))
      problems.push(`${id}: VOTING_ADVERTISE_ADDRESS ${address} is not the pod's name under Service ${name}`);
  }
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget' && selects((o as Obj).spec?.selector?.matchLabels, labels)) as Obj[];
  if (pdbs.length === 0) problems.push('voting: no PodDisruptionBudget selects the replicas');
  for (const pdb of pdbs) {
    const keep = pdb.spec.minAvailable !== undefined ? Number(pdb.spec.minAvailable) : pods - Number(pdb.spec.maxUnavailable ?? pods);
    if (!(keep >= 1)) problems.push(`PodDisruptionBudget/${pdb.metadata.name}: lets every voting replica go at once`);
  }
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as Obj[];
  for (const dir of ['Ingress', 'Egress'] as const)
    if (!allows(policies, dir, labels, labels, grpcPort, 'grpc'))
      problems.push(
        `NetworkPolicy: no ${dir === 'Ingress' ? 'ingress' : 'egress'} rule lets voting → voting on port ${grpcPort} (forwarding between replicas)`,
      );
  return problems;
}

/** The services whose commands read the height and ask consensus first (CONSENSUS_ADDRESS). */
const HEIGHT_SYNCED = ['registry', 'voting', 'rewards', 'distance'] as const;

/**
 * The block clock (docs/OPERATIONS.md, "The block clock"). With BLOCK_RUN_MAX > 1 the producing
 * validator records idle blocks in runs, and a command that reads the height first asks it to record
 * what it counted: every service that does so (registry, voting, rewards, distance) must have
 * CONSENSUS_ADDRESS, and a CONSENSUS_ADDRESS must list each validator's own Service in place order
 * (entry i: a Service on the validators' gRPC port selecting validator i alone — the pod mounting
 * ewx-validator-i —, since a standby answers that it does not produce and one Service over all four
 * would often give the command a standby), the NetworkPolicies must let the service reach each
 * validator's gRPC port, and it must verify them over TLS when they serve TLS. (BLOCK_RUN_MAX may
 * exceed REWARD_PERIOD_BLOCKS: through the same CONSENSUS_ADDRESS each service asks for a run at its
 * own deadlines, a period's close among them — its deadline watch.)
 */
export function checkClock(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const validators = objects
    .filter((o) => podOf(o)?.labels['app.kubernetes.io/name'] === 'consensus')
    .map((o) => {
      const pod = podOf(o)!;
      const key = ((pod.spec.volumes ?? []) as Obj[]).find((v) => v.secret && VALIDATOR_SECRET.test(v.secret.secretName))?.secret.secretName as
        | string
        | undefined;
      const c = (pod.spec.containers ?? [])[0] as Obj | undefined;
      const grpcPort = c ? grpcPortOf(c) : 50051;
      return {
        o,
        labels: pod.labels,
        place: key === undefined ? -1 : Number(key.slice('ewx-validator-'.length)),
        env: c ? envOf(c, objects) : new Map(),
        grpcPort,
      };
    })
    .sort((x, y) => x.place - y.place);
  if (validators.length === 0) return problems;
  const runMax = Number(validators[0]!.env.get('BLOCK_RUN_MAX')?.value ?? '1');
  const tls = validators.some((v) => v.env.has('GRPC_TLS_CERT_FILE'));
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as Obj[];
  for (const s of HEIGHT_SYNCED) {
    for (const w of objects.filter((o) => podOf(o)?.labels['app.kubernetes.io/name'] === s)) {
      const id = `${w.kind}/${w.metadata.name}`;
      const pod = podOf(w)!;
      const c = (((pod.spec.containers ?? []) as Obj[]).find((x) => x.name === s) ?? pod.spec.containers?.[0]) as Obj | undefined;
      if (!c) continue;
      const env = envOf(c, objects);
      const raw = env.get('CONSENSUS_ADDRESS')?.value as string | undefined;
      if (raw === undefined) {
        if (runMax > 1)
          problems.push(
            `${id}: BLOCK_RUN_MAX ${runMax} without CONSENSUS_ADDRESS: its commands would read a height up to ${runMax - 1} blocks behind the wall clock, and its deadlines (a period's close) would wait for the next run; list the validators' Services in place order`,
          );
        continue;
      }
      const list = raw
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x.length > 0);
      if (list.length !== validators.length) {
        problems.push(
          `${id}: CONSENSUS_ADDRESS names ${list.length} address${list.length === 1 ? '' : 'es'} for ${validators.length} validators: list each validator's own Service in place order (a standby answers without recording)`,
        );
        continue;
      }
      list.forEach((entry, i) => {
        const [host = '', port = ''] = entry.split(':');
        const name = host.split('.')[0]!;
        const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === name) as Obj | undefined;
        const selected = validators.filter((v) => selects(svc?.spec.selector, v.labels));
        const v = validators[i]!;
        if (!svc) problems.push(`${id}: CONSENSUS_ADDRESS entry ${i} (${entry}): no Service ${name}`);
        else if (selected.length !== 1 || selected[0] !== v || v.place !== i)
          problems.push(
            `${id}: CONSENSUS_ADDRESS entry ${i} (${entry}) is not validator ${i}'s own Service: Service ${name} selects ${selected.map((x) => `${x.o.metadata.name} (place ${x.place})`).join(', ') || 'no validator'}`,
          );
        else if (!((svc.spec.ports ?? []) as Obj[]).some((p) => String(p.port) === port && (p.targetPort === 'grpc' || p.targetPort === v.grpcPort)))
          problems.push(`${id}: CONSENSUS_ADDRESS entry ${i} (${entry}): Service ${name} has no port ${port} to the validator's gRPC port`);
      });
      for (const dir of ['Egress', 'Ingress'] as const) {
        const blocked = validators.find((v) => !allows(policies, dir, pod.labels, v.labels, v.grpcPort, 'grpc'));
        if (blocked)
          problems.push(
            `NetworkPolicy: no ${dir === 'Ingress' ? 'ingress' : 'egress'} rule lets ${s} → ${blocked.o.metadata.name} on port ${blocked.grpcPort} (RecordCountedBlocks before a command)`,
          );
      }
      if (tls && !env.has('GRPC_CLIENT_TLS_CA_FILE') && env.get('GRPC_CLIENT_TLS')?.value !== '1')
        problems.push(
          `${id}: the validators serve gRPC over TLS, but it would ask them in plaintext (CONSENSUS_ADDRESS): set GRPC_CLIENT_TLS_CA_FILE (the CA of their certificate)`,
        );
    }
  }
  return problems;
}

/** The largest ATTESTATION_WINDOW_BLOCKS consensus starts with (services/consensus/src/domain/decider.ts, MAX_ATTESTATION_WINDOW). */
const MAX_ATTESTATION_WINDOW = 720_000;

/**
 * ATTESTATION_WINDOW_BLOCKS of every consensus container, where set: a whole number of blocks from
 * 1 to 720,000, as services/consensus reads it (outside, the process refuses to start). Unset is
 * consensus's default (7200).
 */
export function checkAttestationWindow(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const pod = podOf(o);
    if (pod?.labels['app.kubernetes.io/name'] !== 'consensus') continue;
    for (const c of (pod.spec.containers ?? []) as Obj[]) {
      const raw = envOf(c, objects).get('ATTESTATION_WINDOW_BLOCKS')?.value as string | undefined;
      if (raw !== undefined && !(/^\d+$/.test(raw) && Number(raw) >= 1 && Number(raw) <= MAX_ATTESTATION_WINDOW))
        problems.push(
          `${o.kind}/${o.metadata.name} container ${c.name}: ATTESTATION_WINDOW_BLOCKS ${JSON.stringify(raw)} is not a whole number of blocks from 1 to ${MAX_ATTESTATION_WINDOW} (consensus refuses to start)`,
        );
    }
  }
  return problems;
}
