import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import type { K8sObject } from './kustomize.js';

const OPS_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** kubernetes-types module of an apiVersion (group folder / version). */
const typesModule = (apiVersion: string): string | undefined => {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const folder =
    group === ''
      ? 'core'
      : group === 'networking.k8s.io'
        ? 'networking'
        : group === 'rbac.authorization.k8s.io'
          ? 'rbac'
          : group === 'policy' || group === 'apps' || group === 'batch' || group === 'autoscaling'
            ? group
            : undefined;
  if (!folder) return undefined;
  const path = join(OPS_ROOT, 'node_modules', 'kubernetes-types', folder, `${version}.d.ts`);
  const hoisted = join(OPS_ROOT, '..', '..', 'node_modules', 'kubernetes-types', folder, `${version}.d.ts`);
  return existsSync(path) || existsSync(hoisted) ? `kubernetes-types/${folder}/${version}` : undefined;
};

export const isBuiltIn = (o: K8sObject): boolean => typesModule(o.apiVersion) !== undefined;

/**
 * Kubernetes objects against kubernetes-types, compiled with tsc --strict: each object becomes a
 * literal typed as its kind, so an unknown field anywhere (an excess property), a missing required
 * field, a wrong type or a wrong apiVersion/kind pair fails. Several sets compile as one program
 * (tsc's start-up dominates); problems come back per set, naming the object.
 */
export function validateBuiltInSets(sets: readonly { name: string; objects: readonly K8sObject[] }[]): Map<string, string[]> {
  const lines: string[] = [];
  const ranges: { from: number; to: number; set: string; id: string }[] = [];
  const out = new Map<string, string[]>(sets.map((s) => [s.name, []]));
  let n = 0;
  for (const set of sets) {
    for (const o of set.objects) {
      const mod = typesModule(o.apiVersion);
      const id = `${o.kind}/${o.metadata?.name}`;
      if (!mod) {
        out.get(set.name)!.push(`${id}: no schema for apiVersion ${o.apiVersion}`);
        continue;
      }
      const i = n++;
      const from = lines.length + 1;
      lines.push(`import type { ${o.kind} as T${i} } from '${mod}';`);
      for (const l of `export const o${i}: T${i} = ${JSON.stringify(o, null, 1)};`.split('\n')) lines.push(l);
      ranges.push({ from, to: lines.length, set: set.name, id });
    }
  }
  if (ranges.length === 0) return out;
  const dir = mkdtempSync(join(OPS_ROOT, '.check-'));
  try {
    const file = join(dir, 'objects.ts');
    writeFileSync(file, lines.join('\n') + '\n');
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
    });
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
      const r = ranges.find((x) => line >= x.from && line <= x.to);
      const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
      const at =
        d.file && d.start !== undefined
          ? d.file.text
              .slice(d.start, d.start + 60)
              .split('\n')[0]!
              .trim()
          : '';
      out.get(r?.set ?? sets[0]!.name)!.push(`${r?.id ?? '?'}: ${text}${at ? ` (at ${at})` : ''}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export const validateBuiltIns = (objects: readonly K8sObject[]): string[] => validateBuiltInSets([{ name: '', objects }]).get('')!;

type Schema = Record<string, unknown>;

/**
 * A CRD's openAPIV3Schema made strict the way the API server prunes and validates: objects with
 * `properties` accept no other field unless they preserve unknown fields; int-or-string and
 * nullable become JSON Schema.
 */
export function strictSchema(s: Schema): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-kubernetes-') || k === 'nullable' || k === 'description' || k === 'example' || k === 'externalDocs') continue;
    if (k === 'properties' || k === 'patternProperties')
      out[k] = Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([p, ps]) => [p, strictSchema(ps)]));
    else if (k === 'items' || k === 'not' || (k === 'additionalProperties' && typeof v === 'object')) out[k] = strictSchema(v as Schema);
    else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf') out[k] = (v as Schema[]).map(strictSchema);
    else out[k] = v;
  }
  if (s['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (s.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  if (s.type === 'object' && s.properties && s.additionalProperties === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true)
    out.additionalProperties = false;
  return out;
}

/** The object envelope around a CRD schema: apiVersion, kind, metadata (name required), and nothing else. */
const envelope = (group: string, version: string, kind: string, schema: Schema): Schema => {
  const props = { ...((schema.properties as Record<string, Schema>) ?? {}) };
  props.apiVersion = { const: `${group}/${version}` };
  props.kind = { const: kind };
  props.metadata = {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 253 },
      namespace: { type: 'string' },
      labels: { type: 'object', additionalProperties: { type: 'string' } },
      annotations: { type: 'object', additionalProperties: { type: 'string' } },
    },
  };
  return {
    ...schema,
    type: 'object',
    required: [...new Set(['apiVersion', 'kind', 'metadata', ...((schema.required as string[]) ?? [])])],
    properties: props,
    additionalProperties: false,
  };
};

/**
 * ExternalSecret (external-secrets.io/v1): no CRD copy is available here, so this hand-written
 * schema covers the fields the prod overlay uses, strictly (anything else is refused).
 */
const EXTERNAL_SECRET: Schema = {
  type: 'object',
  required: ['spec'],
  properties: {
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['secretStoreRef', 'target', 'data'],
      properties: {
        refreshInterval: { type: 'string', pattern: '^\\d+(s|m|h)$' },
        secretStoreRef: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'kind'],
          properties: { name: { type: 'string' }, kind: { enum: ['SecretStore', 'ClusterSecretStore'] } },
        },
        target: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: {
            name: { type: 'string' },
            creationPolicy: { enum: ['Owner', 'Orphan', 'Merge', 'None'] },
            template: {
              type: 'object',
              additionalProperties: false,
              properties: { type: { type: 'string' }, data: { type: 'object', additionalProperties: { type: 'string' } } },
            },
          },
        },
        data: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['secretKey', 'remoteRef'],
            properties: {
              secretKey: { type: 'string' },
              remoteRef: {
                type: 'object',
                additionalProperties: false,
                required: ['key'],
                properties: { key: { type: 'string' }, property: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  },
};

export class CrdValidator {
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, logger: false });

  constructor(crdDir: string) {
    for (const f of readdirSync(crdDir).filter((x) => /\.ya?ml$/.test(x))) {
      for (const doc of parseAllDocuments(readFileSync(join(crdDir, f), 'utf8'))) {
        const crd = doc.toJS() as {
          kind?: string;
          spec?: { group: string; names: { kind: string }; versions: { name: string; served: boolean; schema: { openAPIV3Schema: Schema } }[] };
        } | null;
        if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
        for (const v of crd.spec.versions.filter((x) => x.served)) {
          this.add(crd.spec.group, v.name, crd.spec.names.kind, v.schema.openAPIV3Schema);
        }
      }
    }
    this.add('external-secrets.io', 'v1', 'ExternalSecret', EXTERNAL_SECRET);
  }

  private add(group: string, version: string, kind: string, schema: Schema): void {
    const { metadata: _m, apiVersion: _a, kind: _k, ...rest } = (schema.properties ?? {}) as Record<string, Schema>;
    this.validators.set(`${group}/${version}/${kind}`, this.ajv.compile(envelope(group, version, kind, strictSchema({ ...schema, properties: rest }))));
  }

  has(o: K8sObject): boolean {
    return this.validators.has(`${o.apiVersion}/${o.kind}`);
  }

  validate(o: K8sObject): string[] {
    const v = this.validators.get(`${o.apiVersion}/${o.kind}`);
    if (!v) return [`${o.kind}/${o.metadata?.name}: no CRD schema for ${o.apiVersion} ${o.kind}`];
    if (v(o as unknown)) return [];
    return (v.errors ?? []).map(
      (e) =>
        `${o.kind}/${o.metadata?.name}: ${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
    );
  }
}
