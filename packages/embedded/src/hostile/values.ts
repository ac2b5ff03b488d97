import fc from 'fast-check';
import type { FieldInfo, MethodInfo } from './schema.js';

/**
 * What each request field means (from the proto comments), and the hostile values that follow from
 * it. A variant either must be refused (`refuse`: the gRPC codes that may refuse it) or may be
 * accepted (`refuse` undefined: queries only, since an accepted command would change the state the
 * other cases rely on).
 */

export type Code = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'FAILED_PRECONDITION' | 'ALREADY_EXISTS' | 'PERMISSION_DENIED' | 'UNAUTHENTICATED';

export interface Variant {
  readonly label: string;
  readonly value: unknown;
  readonly refuse?: readonly Code[];
  /** Refused by commands, but a query may answer it (an unknown name lists nothing). */
  readonly queryMay?: boolean;
}

type Kind =
  | { k: 'address'; emptyOk?: boolean }
  | { k: 'name'; emptyOk?: boolean; creates?: boolean }
  | { k: 'amount'; zeroOk: boolean }
  | { k: 'text'; min: number; max: number }
  | { k: 'holdId' }
  | { k: 'roundId' }
  | { k: 'json' }
  | { k: 'pageToken' }
  | { k: 'oneOf'; values: readonly string[] }
  | { k: 'uint'; min: number | bigint; max: number | bigint }
  | { k: 'enum' }
  | { k: 'bytes'; min: number; max: number }
  | { k: 'bool' };

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const U32 = 0xffff_ffff;
const U64 = 2n ** 64n - 1n;

/** Per field name; `Method.field` entries override. Bounds are the proto comments'. */
const KINDS: Record<string, Kind> = {
  account: { k: 'address' },
  to: { k: 'address' },
  worker: { k: 'address' },
  address: { k: 'address' },
  operator: { k: 'address' },
  evaluator: { k: 'address' },
  allow_list: { k: 'address' },
  add: { k: 'address' },
  remove: { k: 'address' },
  group: { k: 'name' },
  solution: { k: 'name' },
  namespace: { k: 'name' },
  groups: { k: 'name' },
  amount: { k: 'amount', zeroOk: false },
  stake: { k: 'amount', zeroOk: false },
  budget: { k: 'amount', zeroOk: true },
  min_stake: { k: 'amount', zeroOk: false },
  max_stake: { k: 'amount', zeroOk: false },
  subscription_reward_per_block: { k: 'amount', zeroOk: true },
  voting_reward_per_block: { k: 'amount', zeroOk: true },
  friendly_name: { k: 'text', min: 1, max: 64 },
  legal_location: { k: 'text', min: 2, max: 64 },
  info: { k: 'text', min: 0, max: 1024 },
  name: { k: 'text', min: 1, max: 128 },
  description: { k: 'text', min: 0, max: 1024 },
  logic_ref: { k: 'text', min: 1, max: 256 },
  purpose: { k: 'text', min: 0, max: 128 },
  hold_id: { k: 'holdId' },
  round_id: { k: 'roundId' },
  json: { k: 'json' },
  page_token: { k: 'pageToken' },
  voting_start_method: { k: 'oneOf', values: ['REGISTRAR', 'WORKER'] },
  unresolved_policy: { k: 'oneOf', values: ['NONE', 'RETRY_ONCE'] },
  max_operators: { k: 'uint', min: 1, max: 10_000 },
  sla_voting_threshold: { k: 'uint', min: 0, max: 100 },
  withdrawal_delay: { k: 'uint', min: 1, max: 1000 },
  vote_threshold_percent: { k: 'uint', min: 0, max: 100 },
  quorum_percent: { k: 'uint', min: 0, max: 100 },
  max_waiting_threshold: { k: 'uint', min: 1, max: 20 },
  start_block: { k: 'uint', min: 0, max: MAX_SAFE },
  operation_start_block: { k: 'uint', min: 0, max: MAX_SAFE },
  operation_end_block: { k: 'uint', min: 0, max: MAX_SAFE },
  expiration_block: { k: 'uint', min: 0, max: MAX_SAFE },
  count: { k: 'uint', min: 1, max: 10_000 },
  length: { k: 'uint', min: 1, max: 1_000_000 },
  page_size: { k: 'uint', min: 0, max: 500 },
  limit: { k: 'uint', min: 0, max: 500 },
  values: { k: 'uint', min: 0, max: 1_000_000_000 },
  identity: { k: 'uint', min: 0, max: U32 },
  issuer: { k: 'uint', min: 0, max: U32 },
  receiver: { k: 'uint', min: 0, max: U32 },
  period: { k: 'uint', min: 0, max: U32 },
  reward_period: { k: 'uint', min: 0, max: U32 },
  evaluation_period: { k: 'uint', min: 0, max: U32 },
  state: { k: 'enum' },
  result: { k: 'bytes', min: 1, max: 64 },
  member: { k: 'bool' },
  enabled: { k: 'bool' },
  allow_list_enabled: { k: 'bool' },
  nominations_enabled: { k: 'bool' },
  // Filters where empty means "all".
  'GetVoteMetadata.operator': { k: 'address', emptyOk: true },
  // ProduceBlocks: one run of 1..1000000 blocks (consensus.proto).
  'ProduceBlocks.count': { k: 'uint', min: 1, max: 1_000_000 },
  // RecordCountedBlocks: a height (0: whatever is counted).
  'RecordCountedBlocks.at_least': { k: 'uint', min: 0, max: MAX_SAFE },
  'ListSolutions.group': { k: 'name', emptyOk: true },
  'ListOperators.group': { k: 'name', emptyOk: true },
  // The name a registration creates: an unknown one is the valid case.
  'RegisterGroup.namespace': { k: 'name', creates: true },
  'RegisterSolution.namespace': { k: 'name', creates: true },
};

export function kindOf(m: MethodInfo, f: FieldInfo): Kind {
  const k = KINDS[`${m.name}.${f.name}`] ?? KINDS[f.name];
  if (!k) throw new Error(`no kind for ${m.name}.${f.path}: add it to KINDS`);
  return k;
}

export const TEN_KB = 10 * 1024;
const HEX = 'ab'.repeat(32);
const INVALID: readonly Code[] = ['INVALID_ARGUMENT'];

/** Control characters: C0, DEL and C1 (Unicode category Cc). */
const CONTROLS = ['\u0000', '\n', '\u007f', '\u009b'];

function stringVariants(kind: Kind, base: string): Variant[] {
  const withControl = (c: string): Variant => ({
    label: `control U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    value: `${base.slice(0, 1)}${c}${base.slice(1)}`,
    refuse: INVALID,
  });
  const common: Variant[] = [{ label: '10 KB', value: 'a'.repeat(TEN_KB), refuse: INVALID }, ...CONTROLS.map(withControl)];
  switch (kind.k) {
    case 'address':
      return [
        { label: 'empty', value: '', ...(kind.emptyOk ? {} : { refuse: INVALID }) },
        ...[
          ['ed25519:zz', 'not hex'],
          [`ed25519:${HEX.toUpperCase()}`, 'upper-case hex'],
          [`ed25519:${'ab'.repeat(31)}`, '31 bytes'],
          [`ed25519:${'ab'.repeat(33)}`, '33 bytes'],
          [HEX, 'no scheme'],
          [`sr25519:${HEX}`, 'other scheme'],
          [` ed25519:${HEX}`, 'leading space'],
        ].map(([value, label]) => ({ label: label!, value, refuse: INVALID })),
        ...common,
      ];
    case 'name':
      return [
        { label: 'empty', value: '', ...(kind.emptyOk ? {} : { refuse: INVALID }) },
        { label: 'upper case', value: 'Grp-A', refuse: INVALID },
        { label: 'two characters', value: 'ab', refuse: INVALID },
        { label: 'leading dash', value: '-abc', refuse: INVALID },
        kind.creates
          ? { label: 'unknown', value: 'no-such-name' }
          : { label: 'unknown', value: 'no-such-name', refuse: ['NOT_FOUND', 'FAILED_PRECONDITION'], queryMay: true },
        ...common,
      ];
    case 'amount':
      return [
        ...['', '-1', '1.5', '1e3', ' 1', '+1', '0x10', '١', '1'.repeat(41), (2n ** 256n).toString(), '9'.repeat(TEN_KB)].map((value) => ({
          label: `amount ${JSON.stringify(value.length > 20 ? `${value.slice(0, 8)}…(${value.length})` : value)}`,
          value,
          refuse: INVALID,
        })),
        { label: 'zero', value: '0', ...(kind.zeroOk ? {} : { refuse: INVALID }) },
        { label: 'largest', value: '9'.repeat(40) },
        ...CONTROLS.map(withControl),
      ];
    case 'text':
      return [
        { label: 'empty', value: '', ...(kind.min > 0 ? { refuse: INVALID } : {}) },
        { label: 'longest', value: 'x'.repeat(kind.max) },
        { label: 'one too long', value: 'x'.repeat(kind.max + 1), refuse: INVALID },
        { label: 'astral characters', value: '😀'.repeat(Math.min(kind.max, 20)) },
        ...common,
      ];
    case 'holdId':
      return [
        { label: 'empty', value: '', refuse: INVALID },
        { label: 'space', value: 'a b', refuse: INVALID },
        { label: 'one too long', value: 'h'.repeat(129), refuse: INVALID },
        ...common,
      ];
    case 'roundId':
      return [
        { label: 'empty', value: '', refuse: INVALID },
        { label: 'retry suffix', value: 'x#retry' },
        { label: 'longest', value: 'r'.repeat(128) },
        { label: 'one too long', value: 'r'.repeat(129 + '#retry'.length), refuse: INVALID },
        ...common,
      ];
    case 'json':
      return [
        ...['', '{', '[]', 'null', '{"format":"ewx-wot/1","identities":[]}', '{"format":"other","identities":[{"id":1,"member":true,"certifiedBy":[]}]}'].map(
          (value) => ({ label: `json ${JSON.stringify(value.slice(0, 30))}`, value, refuse: INVALID }),
        ),
        { label: '10 KB', value: 'a'.repeat(TEN_KB), refuse: INVALID },
        { label: 'control U+0000', value: `{"format":"ewx-wot/1"\u0000}`, refuse: INVALID },
      ];
    case 'pageToken':
      return [
        { label: 'garbage', value: 'zz!', refuse: INVALID },
        { label: 'negative', value: '-1', refuse: INVALID },
        { label: 'base64 of nothing', value: 'AAAA', refuse: INVALID },
        ...common,
      ];
    case 'oneOf':
      return [{ label: 'empty', value: '', refuse: INVALID }, { label: 'lower case', value: kind.values[0]!.toLowerCase(), refuse: INVALID }, ...common];
    default:
      throw new Error(`not a string kind: ${kind.k}`);
  }
}

function numberVariants(kind: Kind, wide: boolean): Variant[] {
  if (kind.k === 'enum') {
    return [5, 99, -1, 0x7fff_ffff].map((value) => ({ label: `enum ${value}`, value, refuse: INVALID }));
  }
  if (kind.k !== 'uint') throw new Error(`not a number kind: ${kind.k}`);
  const top = wide ? U64 : BigInt(U32);
  const cast = (v: bigint): unknown => (wide ? v : Number(v));
  const min = BigInt(kind.min);
  const max = BigInt(kind.max);
  const candidates = new Map<bigint, string>([
    [0n, 'zero'],
    [min, 'lowest'],
    [max, 'highest'],
    [max + 1n, 'one above'],
    [top, 'type maximum'],
  ]);
  if (wide) {
    candidates.set(MAX_SAFE + 1n, '2^53');
    candidates.set(2n ** 63n, '2^63');
  }
  if (min > 0n) candidates.set(min - 1n, 'one below');
  return [...candidates]
    .filter(([v]) => v >= 0n && v <= top)
    .map(([v, label]) => ({
      label: `${label} ${v}`,
      value: cast(v),
      ...(v < min || v > max ? { refuse: INVALID } : {}),
    }));
}

function bytesVariants(kind: Kind): Variant[] {
  if (kind.k !== 'bytes') throw new Error(`not a bytes kind: ${kind.k}`);
  return [
    { label: 'empty', value: new Uint8Array(0), ...(kind.min > 0 ? { refuse: INVALID } : {}) },
    { label: 'longest', value: new Uint8Array(kind.max).fill(7) },
    { label: 'one too long', value: new Uint8Array(kind.max + 1).fill(7), refuse: INVALID },
    { label: '10 KB', value: new Uint8Array(TEN_KB).fill(0xff), refuse: INVALID },
  ];
}

/** Every hostile value of one field (for repeated fields: as the only element, and too many). */
export function variantsOf(m: MethodInfo, f: FieldInfo, base: unknown): Variant[] {
  const kind = kindOf(m, f);
  const one = Array.isArray(base) ? base[0] : base;
  let vs: Variant[];
  switch (f.scalar) {
    case 'string':
      vs = stringVariants(kind, typeof one === 'string' ? one : '');
      break;
    case 'uint32':
    case 'enum':
      vs = numberVariants(kind, false);
      break;
    case 'uint64':
      vs = numberVariants(kind, true);
      break;
    case 'bytes':
      vs = bytesVariants(kind);
      break;
    case 'bool':
      vs = [
        { label: 'true', value: true },
        { label: 'false', value: false },
      ];
      break;
  }
  if (f.optional) vs.push({ label: 'unset', value: undefined });
  if (!f.repeated) return vs;
  const lists = vs.map((v) => ({ ...v, label: `[${v.label}]`, value: [v.value] }));
  const bound = LIST_BOUNDS[f.name];
  if (bound !== undefined && one !== undefined) {
    lists.push({ label: `${bound + 1} entries`, value: Array.from({ length: bound + 1 }, (_, i) => distinctLike(one, i)), refuse: INVALID });
  }
  return lists;
}

/** Proto-documented list bounds (registry README: allow list 10000, changes and claims 1000). */
const LIST_BOUNDS: Record<string, number> = { allow_list: 10_000, add: 1000, remove: 1000, groups: 1000 };

/** The i-th well-formed value like `v` (addresses and names stay valid, so only the count is wrong). */
function distinctLike(v: unknown, i: number): unknown {
  if (typeof v !== 'string') return v;
  if (v.startsWith('ed25519:')) return `ed25519:${i.toString(16).padStart(64, '0')}`;
  return `${v.slice(0, 50)}-${i}`;
}

// ---- random hostile values (fast-check) ----

/** A control character somewhere in any string: always refused, by every text field. */
export const withControlChar = (): fc.Arbitrary<string> =>
  fc.tuple(fc.string({ maxLength: 40 }), fc.constantFrom(...CONTROLS, '\u0001', '\u0007', '\u001b', '\u0085', '\u009f'), fc.nat()).map(([s, c, at]) => {
    const i = s.length === 0 ? 0 : at % (s.length + 1);
    return s.slice(0, i) + c + s.slice(i);
  });

/** Strings that are not decimal amounts. */
export const notAnAmount = (): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.bigInt({ min: -(2n ** 300n), max: -1n }).map(String),
      fc.bigInt({ min: 10n ** 40n, max: 2n ** 300n }).map(String),
    )
    .filter((s) => !/^\d{1,40}$/.test(s));

/** Strings that are not addresses. */
export const notAnAddress = (): fc.Arbitrary<string> =>
  fc
    .oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.stringMatching(/^ed25519:[0-9a-fA-F]{0,70}$/), fc.constant('ed25519:'))
    .filter((s) => !/^ed25519:[0-9a-f]{64}$/.test(s));

/** Any string at all (for queries, which may answer OK). */
export const anyString = (): fc.Arbitrary<string> => fc.string({ unit: 'binary', maxLength: 200 });

/** Random values the field must refuse, or undefined when the field has no such values. */
export function refusedArbitrary(m: MethodInfo, f: FieldInfo): fc.Arbitrary<unknown> | undefined {
  const kind = kindOf(m, f);
  const wrap = (a: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => (f.repeated ? a.map((v) => [v]) : a);
  switch (kind.k) {
    case 'address':
      return wrap(
        fc.oneof(
          notAnAddress().filter((s) => !(kind.emptyOk && s === '')),
          withControlChar(),
        ),
      );
    case 'amount':
      return wrap(notAnAmount());
    case 'name':
    case 'text':
    case 'holdId':
    case 'roundId':
    case 'oneOf':
    case 'pageToken':
      return wrap(withControlChar());
    case 'json':
      return wrap(
        fc.oneof(
          withControlChar(),
          fc.string({ maxLength: 50 }).filter((s) => {
            try {
              JSON.parse(s);
              return false;
            } catch {
              return true;
            }
          }),
        ),
      );
    case 'uint': {
      const top = f.scalar === 'uint64' ? U64 : BigInt(U32);
      if (BigInt(kind.max) >= top) return undefined;
      return wrap(fc.bigInt({ min: BigInt(kind.max) + 1n, max: top }).map((v) => (f.scalar === 'uint64' ? v : Number(v))));
    }
    case 'enum':
      return wrap(fc.integer({ min: 5, max: 0x7fff_ffff }));
    case 'bytes':
      return wrap(fc.uint8Array({ minLength: kind.max + 1, maxLength: 300 }));
    case 'bool':
      return undefined;
  }
}

/** Random values of the field's wire type, for queries. */
export function anyArbitrary(f: FieldInfo): fc.Arbitrary<unknown> {
  const a: fc.Arbitrary<unknown> = ((): fc.Arbitrary<unknown> => {
    switch (f.scalar) {
      case 'string':
        return anyString();
      case 'bytes':
        return fc.uint8Array({ maxLength: 100 });
      case 'bool':
        return fc.boolean();
      case 'uint32':
        return fc.nat({ max: U32 });
      case 'uint64':
        return fc.bigInt({ min: 0n, max: U64 });
      case 'enum':
        return fc.integer({ min: -1, max: 0x7fff_ffff });
    }
  })();
  return f.repeated ? fc.array(a, { maxLength: 3 }) : a;
}
