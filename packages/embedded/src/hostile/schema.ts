import { join } from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_ROOT } from '@ewx/platform';
import * as common from '@ewx/proto/common';
import * as consensus from '@ewx/proto/consensus';
import * as distance from '@ewx/proto/distance';
import * as registry from '@ewx/proto/registry';
import * as rewards from '@ewx/proto/rewards';
import * as voting from '@ewx/proto/voting';

/**
 * The public contract as data: every method of every service and every field of its request,
 * read from proto/ewx/v1/*.proto, joined with ts-proto's codecs (what the server decodes with).
 */

export type Scalar = 'string' | 'bytes' | 'bool' | 'uint32' | 'uint64' | 'enum';

export interface FieldInfo {
  /** snake_case path from the request, e.g. `config.logic_ref` or `page.page_token`. */
  readonly path: string;
  readonly name: string;
  /** ts-proto (camelCase) property names along the path. */
  readonly jsPath: readonly string[];
  readonly scalar: Scalar;
  readonly repeated: boolean;
  /** proto3 `optional`: unset is a value of its own. */
  readonly optional: boolean;
  /** Enum numbers, when `scalar` is `enum`. */
  readonly enumValues?: readonly number[];
}

/** A message-typed field, which may be left unset as a whole. */
export interface MessageFieldInfo {
  readonly path: string;
  readonly name: string;
  readonly jsPath: readonly string[];
  readonly repeated: boolean;
}

export interface Codec<T = unknown> {
  fromPartial(o: unknown): T;
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
}

export interface MethodInfo {
  readonly service: string;
  readonly name: string;
  /** `/ewx.v1.Registry/Deposit` */
  readonly path: string;
  readonly requestType: string;
  readonly request: Codec;
  readonly response: Codec;
  /** Has `auth`: a signed command. */
  readonly signed: boolean;
  readonly fields: readonly FieldInfo[];
  readonly messages: readonly MessageFieldInfo[];
}

const MODULES = [common, registry, voting, consensus, rewards, distance] as unknown as Record<string, unknown>[];
export const SERVICES = ['Registry', 'Voting', 'Consensus', 'Rewards', 'Distance'] as const;

function codecOf(typeName: string): Codec {
  for (const m of MODULES) {
    const c = m[typeName] as Codec | undefined;
    if (c && typeof c.fromPartial === 'function') return c;
  }
  throw new Error(`no ts-proto codec for ${typeName}`);
}

const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function walk(type: protobuf.Type, prefix: string, jsPrefix: readonly string[], fields: FieldInfo[], messages: MessageFieldInfo[]): void {
  for (const f of type.fieldsArray) {
    // Signatures are the auth cases' business; ConnectWorker's worker_auth (the worker's consent) is
    // covered by the registry's own tests (missing, forged, another signer, replayed).
    if (f.name === 'auth' || f.name === 'worker_auth') continue;
    const path = prefix ? `${prefix}.${f.name}` : f.name;
    const jsPath = [...jsPrefix, camel(f.name)];
    const resolved = f.resolvedType;
    if (resolved instanceof protobuf.Type) {
      messages.push({ path, name: f.name, jsPath, repeated: f.repeated });
      // Repeated messages (SubmitVotes.votes) are covered through their first element.
      walk(resolved, f.repeated ? `${path}[0]` : path, f.repeated ? [...jsPath, '0'] : jsPath, fields, messages);
      continue;
    }
    const scalar: Scalar = resolved instanceof protobuf.Enum ? 'enum' : (f.type as Scalar);
    if (!['string', 'bytes', 'bool', 'uint32', 'uint64', 'enum'].includes(scalar)) throw new Error(`unexpected field type ${f.type} at ${path}`);
    fields.push({
      path,
      name: f.name,
      jsPath,
      scalar,
      repeated: f.repeated,
      optional: f.partOf !== null && f.partOf.name === `_${f.name}`,
      ...(resolved instanceof protobuf.Enum ? { enumValues: Object.values(resolved.values) } : {}),
    });
  }
}

export function loadContract(): MethodInfo[] {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
  root.loadSync(
    SERVICES.map((s) => `ewx/v1/${s.toLowerCase()}.proto`),
    { keepCase: true },
  );
  root.resolveAll();
  const out: MethodInfo[] = [];
  for (const service of SERVICES) {
    for (const m of root.lookupService(`ewx.v1.${service}`).methodsArray) {
      // Server-streaming methods (Watch) are checked by their own tests (packages/client/src/watch.test.ts).
      if (m.responseStream) continue;
      const req = m.resolvedRequestType!;
      const fields: FieldInfo[] = [];
      const messages: MessageFieldInfo[] = [];
      walk(req, '', [], fields, messages);
      out.push({
        service,
        name: m.name,
        path: `/ewx.v1.${service}/${m.name}`,
        requestType: req.name,
        request: codecOf(req.name),
        response: codecOf(m.resolvedResponseType!.name),
        signed: req.fields.auth !== undefined,
        fields,
        messages,
      });
    }
  }
  return out;
}

/** A copy of `o` with the value at `jsPath` replaced (intermediate messages created as needed). */
export function setAt(o: unknown, jsPath: readonly string[], value: unknown): unknown {
  if (jsPath.length === 0) return value;
  const [head, ...rest] = jsPath;
  if (Array.isArray(o)) {
    const copy = [...o];
    copy[Number(head)] = setAt(copy[Number(head)] ?? {}, rest, value);
    return copy;
  }
  const obj = (o ?? {}) as Record<string, unknown>;
  const next = obj[head!] ?? (rest.length > 0 && /^\d+$/.test(rest[0]!) ? [] : {});
  return { ...obj, [head!]: setAt(next, rest, value) };
}

export const getAt = (o: unknown, jsPath: readonly string[]): unknown =>
  jsPath.reduce<unknown>((x, k) => (x === undefined || x === null ? undefined : (x as Record<string, unknown>)[k]), o);
