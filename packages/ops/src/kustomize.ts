import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

/**
 * A kustomize renderer for the subset deploy/k8s uses, in TypeScript: no kustomize binary is on
 * the registries this project may use (npm has none; Debian 12 has none). Anything outside the
 * subset fails loudly instead of being ignored. Where `kubectl kustomize` exists, a test renders
 * the same folders with it and compares (packages/ops/src/manifests.test.ts).
 * Subset: resources (files, folders), namespace, images, replicas, configMapGenerator and
 * secretGenerator (literals, envs, files; behavior create/merge/replace; no name hash, so
 * generatorOptions.disableNameSuffixHash must be true), patches (strategic merge or JSON 6902,
 * with target group/version/kind/name/labelSelector; options.allowKindChange lets a strategic merge
 * patch change its target's kind; list items a strategic merge patch adds come first), components (kind Component, applied in order after the resources and
 * before the including kustomization's own generators and patches, as kustomize does).
 */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
};

const KNOWN = new Set([
  'apiVersion',
  'kind',
  'resources',
  'components',
  'namespace',
  'images',
  'replicas',
  'configMapGenerator',
  'secretGenerator',
  'generatorOptions',
  'patches',
]);
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'ClusterSecretStore',
]);

export class KustomizeError extends Error {
  constructor(dir: string, message: string) {
    super(`kustomize ${dir}: ${message}`);
    this.name = 'KustomizeError';
  }
}

const readObjects = (file: string): K8sObject[] =>
  parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => {
      if (d.errors.length > 0) throw new KustomizeError(file, d.errors[0]!.message);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);

const idOf = (o: K8sObject): string => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');
const versionOf = (apiVersion: string): string => apiVersion.split('/').at(-1)!;

function envFile(dir: string, file: string): [string, string][] {
  if (!existsSync(resolve(dir, file))) throw new KustomizeError(dir, `env file ${file} does not exist`);
  return readFileSync(resolve(dir, file), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const i = l.indexOf('=');
      if (i <= 0) throw new KustomizeError(dir, `${file}: not KEY=VALUE: ${l}`);
      return [l.slice(0, i), l.slice(i + 1)];
    });
}

interface Generator {
  name: string;
  behavior?: string;
  type?: string;
  literals?: string[];
  envs?: string[];
  files?: string[];
  namespace?: string;
  options?: unknown;
}

function generate(dir: string, kind: 'ConfigMap' | 'Secret', g: Generator): K8sObject {
  for (const k of Object.keys(g))
    if (!['name', 'behavior', 'type', 'literals', 'envs', 'files'].includes(k))
      throw new KustomizeError(dir, `${kind} generator ${g.name}: unsupported field ${k}`);
  const data: Record<string, string> = {};
  for (const l of g.literals ?? []) {
    const i = l.indexOf('=');
    data[l.slice(0, i)] = l.slice(i + 1).replace(/^"(.*)"$/, '$1');
  }
  for (const e of g.envs ?? []) for (const [k, v] of envFile(dir, e)) data[k] = v;
  for (const f of g.files ?? []) {
    const [key, path] = f.includes('=') ? [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] : [f.split('/').at(-1)!, f];
    const p = resolve(dir, path);
    if (!existsSync(p)) throw new KustomizeError(dir, `${kind} ${g.name}: file ${path} does not exist`);
    data[key] = readFileSync(p, 'utf8');
  }
  const obj: K8sObject = { apiVersion: 'v1', kind, metadata: { name: g.name } };
  if (kind === 'Secret') {
    obj.type = g.type ?? 'Opaque';
    obj.data = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  } else obj.data = data;
  return obj;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Strategic merge, as kustomize does it for the fields we patch: maps merge, lists of named items merge by name. */
export function strategicMerge(base: unknown, patch: unknown): unknown {
  if (isObj(base) && isObj(patch)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = k in base ? strategicMerge(base[k], v) : v;
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch)) {
    const key =
      patch.every((x) => isObj(x) && typeof x.name === 'string') && base.every((x) => isObj(x) && typeof x.name === 'string')
        ? 'name'
        : patch.every((x) => isObj(x) && typeof x.containerPort === 'number')
          ? 'containerPort'
          : undefined;
    if (!key) return patch;
    const out = [...base] as Record<string, unknown>[];
    const added: Record<string, unknown>[] = [];
    for (const p of patch as Record<string, unknown>[]) {
      const i = out.findIndex((b) => b[key] === p[key]);
      if (p.$patch === 'delete') {
        if (i >= 0) out.splice(i, 1);
        continue;
      }
      if (i >= 0) out[i] = strategicMerge(out[i], p) as Record<string, unknown>;
      else added.push(p);
    }
    return [...added, ...out];
  }
  return patch;
}

const pointer = (path: string): string[] =>
  path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));

/** JSON patch (RFC 6902): add, replace, remove, test. */
export function jsonPatch(doc: unknown, ops: { op: string; path: string; value?: unknown }[], where: string): unknown {
  const root = structuredClone(doc);
  for (const o of ops) {
    const parts = pointer(o.path);
    const last = parts.pop()!;
    let at: unknown = root;
    for (const p of parts) {
      at = Array.isArray(at) ? at[Number(p)] : isObj(at) ? at[p] : undefined;
      if (at === undefined) throw new KustomizeError(where, `${o.op} ${o.path}: ${p} does not exist`);
    }
    if (Array.isArray(at)) {
      const i = last === '-' ? at.length : Number(last);
      if (o.op === 'add') at.splice(i, 0, o.value);
      else if (o.op === 'replace') {
        if (i >= at.length) throw new KustomizeError(where, `replace ${o.path}: no such item`);
        at[i] = o.value;
      } else if (o.op === 'remove') at.splice(i, 1);
      else throw new KustomizeError(where, `unsupported op ${o.op}`);
    } else if (isObj(at)) {
      if (o.op === 'replace' || o.op === 'remove') {
        if (!(last in at)) throw new KustomizeError(where, `${o.op} ${o.path}: no such field`);
      }
      if (o.op === 'add' || o.op === 'replace') at[last] = o.value;
      else if (o.op === 'remove') delete at[last];
      else throw new KustomizeError(where, `unsupported op ${o.op}`);
    } else throw new KustomizeError(where, `${o.op} ${o.path}: parent is not a map or list`);
  }
  return root;
}

interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
}

const matches = (o: K8sObject, t: Target): boolean => {
  if (t.kind !== undefined && o.kind !== t.kind) return false;
  if (t.name !== undefined && o.metadata.name !== t.name) return false;
  if (t.group !== undefined && groupOf(o.apiVersion) !== t.group) return false;
  if (t.version !== undefined && versionOf(o.apiVersion) !== t.version) return false;
  if (t.labelSelector !== undefined) {
    for (const term of t.labelSelector.split(',')) {
      const [k, v] = term.split('=').map((s) => s.trim());
      if (v === undefined || /[!()]/.test(term)) throw new Error(`labelSelector ${t.labelSelector}: only k=v terms are supported`);
      if (o.metadata.labels?.[k!] !== v) return false;
    }
  }
  return true;
};

const setImages = (o: unknown, images: { name: string; newName?: string; newTag?: string; digest?: string }[]): void => {
  if (Array.isArray(o)) {
    for (const x of o) setImages(x, images);
    return;
  }
  if (!isObj(o)) return;
  for (const [k, v] of Object.entries(o)) {
    if ((k === 'containers' || k === 'initContainers') && Array.isArray(v)) {
      for (const c of v as { image?: string }[]) {
        if (typeof c.image !== 'string') continue;
        const name = c.image.replace(/[@:][^/]*$/, '');
        const img = images.find((i) => i.name === name);
        if (img) c.image = `${img.newName ?? name}${img.digest ? `@${img.digest}` : img.newTag ? `:${img.newTag}` : ''}`;
      }
    } else setImages(v, images);
  }
};

const loadKustomization = (dir: string, kind: 'Kustomization' | 'Component'): Record<string, unknown> => {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => join(dir, f)).find(existsSync);
  if (!file) throw new KustomizeError(dir, 'no kustomization.yaml');
  const k = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(k)) if (!KNOWN.has(key)) throw new KustomizeError(dir, `unsupported field ${key}`);
  if ((k.kind ?? 'Kustomization') !== kind) throw new KustomizeError(dir, `is a ${String(k.kind ?? 'Kustomization')}, expected a ${kind}`);
  return k;
};

/** Renders a kustomization folder to its list of objects. */
export function kustomize(dir: string): K8sObject[] {
  dir = resolve(dir);
  return layer(dir, loadKustomization(dir, 'Kustomization'), []);
}

/** One kustomization (or component) applied to the objects accumulated so far. */
function layer(dir: string, k: Record<string, unknown>, objects: K8sObject[]): K8sObject[] {
  for (const r of (k.resources as string[] | undefined) ?? []) {
    const p = resolve(dir, r);
    if (!existsSync(p)) throw new KustomizeError(dir, `resource ${r} does not exist`);
    objects.push(...(statSync(p).isDirectory() ? kustomize(p) : readObjects(p)));
  }
  for (const c of (k.components as string[] | undefined) ?? []) {
    const p = resolve(dir, c);
    if (!existsSync(p) || !statSync(p).isDirectory()) throw new KustomizeError(dir, `component ${c} is not a folder`);
    objects = layer(p, loadKustomization(p, 'Component'), objects);
  }
  const gen = (k.generatorOptions ?? {}) as { disableNameSuffixHash?: boolean };
  const generators = [
    ...((k.configMapGenerator as Generator[] | undefined) ?? []).map((g) => ['ConfigMap', g] as const),
    ...((k.secretGenerator as Generator[] | undefined) ?? []).map((g) => ['Secret', g] as const),
  ];
  if (generators.length > 0 && gen.disableNameSuffixHash !== true)
    throw new KustomizeError(dir, 'generators need generatorOptions.disableNameSuffixHash: true (this renderer does not compute name hashes)');
  for (const [kind, g] of generators) {
    const made = generate(dir, kind, g);
    const i = objects.findIndex((o) => o.kind === kind && o.metadata.name === g.name);
    const behavior = g.behavior ?? 'create';
    if (behavior === 'create') {
      if (i >= 0) throw new KustomizeError(dir, `${kind} ${g.name} already exists (use behavior: merge or replace)`);
      objects.push(made);
    } else if (behavior === 'merge' || behavior === 'replace') {
      if (i < 0) throw new KustomizeError(dir, `${kind} ${g.name}: nothing to ${behavior}`);
      const old = objects[i]!;
      objects[i] = behavior === 'merge' ? { ...old, data: { ...(old.data as object), ...(made.data as object) } } : { ...made, metadata: old.metadata };
    } else throw new KustomizeError(dir, `${kind} ${g.name}: unknown behavior ${behavior}`);
  }
  for (const p of (k.patches as { path?: string; patch?: string; target?: Target; options?: unknown }[] | undefined) ?? []) {
    for (const key of Object.keys(p))
      if (!['path', 'patch', 'target', 'options'].includes(key)) throw new KustomizeError(dir, `patch: unsupported field ${key}`);
    const options = (p.options ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(options)) if (key !== 'allowKindChange') throw new KustomizeError(dir, `patch: unsupported option ${key}`);
    const text = p.path !== undefined ? readFileSync(resolve(dir, p.path), 'utf8') : p.patch;
    if (text === undefined) throw new KustomizeError(dir, 'patch without path or patch');
    const body = parseYaml(text) as unknown;
    const where = `${dir} patch ${p.path ?? JSON.stringify(p.target)}`;
    if (Array.isArray(body)) {
      if (!p.target) throw new KustomizeError(dir, 'a JSON 6902 patch needs a target');
      const hit = objects.filter((o) => matches(o, p.target!));
      if (hit.length === 0) throw new KustomizeError(dir, `patch target ${JSON.stringify(p.target)} matches nothing`);
      objects = objects.map((o) => (matches(o, p.target!) ? (jsonPatch(o, body as never, where) as K8sObject) : o));
    } else {
      const sm = body as K8sObject;
      const target: Target = p.target ?? { kind: sm.kind, name: sm.metadata?.name };
      const hit = objects.filter((o) => matches(o, target));
      if (hit.length === 0) throw new KustomizeError(dir, `patch target ${JSON.stringify(target)} matches nothing`);
      const kindOf = (o: K8sObject) =>
        options.allowKindChange === true ? { apiVersion: sm.apiVersion, kind: sm.kind } : { apiVersion: o.apiVersion, kind: o.kind };
      objects = objects.map((o) =>
        matches(o, target) ? { ...(strategicMerge(o, { ...sm, ...kindOf(o), metadata: { ...sm.metadata, name: o.metadata.name } }) as K8sObject) } : o,
      );
    }
  }
  for (const r of (k.replicas as { name: string; count: number }[] | undefined) ?? []) {
    const o = objects.find((x) => x.metadata.name === r.name && ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(x.kind));
    if (!o) throw new KustomizeError(dir, `replicas: no workload ${r.name}`);
    (o.spec as { replicas: number }).replicas = r.count;
  }
  if (k.images) setImages(objects, k.images as never);
  if (typeof k.namespace === 'string') {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata = { ...o.metadata, namespace: k.namespace };
  }
  const seen = new Set<string>();
  for (const o of objects) {
    if (seen.has(idOf(o))) throw new KustomizeError(dir, `${idOf(o)} is declared twice`);
    seen.add(idOf(o));
  }
  return objects;
}
