import { distanceEvent } from '@ewx/contracts';
import { alreadyExists, denied, invalid, notFound, precondition, DomainError, type EventData } from '@ewx/platform/domain';
import { graphFromDocument, WotError } from '../oracle/index.js';
import type { WotIdentityData } from './events.js';
import type { DistanceState } from './state.js';

/** Web-of-trust changes; all signed by the identity-registry admin. */
export type WotCommand =
  | { readonly type: 'AddIdentity'; readonly signer: string; readonly identity: number; readonly member: boolean }
  | { readonly type: 'SetMembership'; readonly signer: string; readonly identity: number; readonly member: boolean }
  | { readonly type: 'AddCertification'; readonly signer: string; readonly issuer: number; readonly receiver: number }
  | { readonly type: 'RemoveCertification'; readonly signer: string; readonly issuer: number; readonly receiver: number }
  | { readonly type: 'ImportWot'; readonly signer: string; readonly json: string };

/** Identity ids travel as proto uint32. */
export const MAX_IDENTITY_ID = 0xffff_ffff;
/** Import chunks stay well below the 512 KiB event limit. */
export const IMPORT_CHUNK_BYTES = 256 * 1024;

function identityId(field: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > MAX_IDENTITY_ID) throw invalid(field, `expected an identity id from 0 to ${MAX_IDENTITY_ID}, got ${v}`);
  return v;
}

function existing(s: DistanceState, field: string, id: number): WotIdentityData {
  const idty = s.wot.get(identityId(field, id));
  if (!idty) throw notFound(`${field}: identity ${id} in the web of trust`);
  return idty;
}

export function decideWot(c: WotCommand, s: DistanceState, wotAdmin: string): EventData[] {
  if (c.signer !== wotAdmin) throw denied(`auth.signer: only the identity-registry admin (${wotAdmin}) may change the web of trust (${c.type})`);
  switch (c.type) {
    case 'AddIdentity':
      if (s.wot.has(identityId('identity', c.identity))) throw alreadyExists(`identity: identity ${c.identity}`);
      return [distanceEvent({ type: 'IdentityAdded', data: { id: c.identity, member: c.member } })];
    case 'SetMembership':
      // Already so: nothing to record.
      return existing(s, 'identity', c.identity).member === c.member
        ? []
        : [distanceEvent({ type: 'MembershipChanged', data: { id: c.identity, member: c.member } })];
    case 'AddCertification': {
      existing(s, 'issuer', c.issuer);
      const r = existing(s, 'receiver', c.receiver);
      if (c.issuer === c.receiver) throw invalid('issuer', `identity ${c.issuer} cannot certify itself`);
      if (r.certifiedBy.includes(c.issuer)) throw alreadyExists(`issuer, receiver: certification ${c.issuer} → ${c.receiver}`);
      return [distanceEvent({ type: 'CertificationAdded', data: { issuer: c.issuer, receiver: c.receiver } })];
    }
    case 'RemoveCertification': {
      existing(s, 'issuer', c.issuer);
      const r = existing(s, 'receiver', c.receiver);
      if (!r.certifiedBy.includes(c.issuer)) throw notFound(`issuer, receiver: certification ${c.issuer} → ${c.receiver}`);
      return [distanceEvent({ type: 'CertificationRemoved', data: { issuer: c.issuer, receiver: c.receiver } })];
    }
    case 'ImportWot':
      return importEvents(parseImport(c.json), `import:${s.wotVersion + 1}`);
    default: {
      const never: never = c;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The longest ewx-wot/1 text ImportWot reads, in characters: six times the Ğ1 web of trust (about
 * 1 MB for 12,533 identities), below the gRPC server's request limit.
 */
export const MAX_IMPORT_JSON_CHARS = 6 * 1024 * 1024;

/** Validates an ewx-wot/1 text with the oracle's reader; errors name the identity and the field. */
export function parseImport(json: string): WotIdentityData[] {
  if (json.length > MAX_IMPORT_JSON_CHARS) throw invalid('json', `at most ${MAX_IMPORT_JSON_CHARS} characters of ewx-wot/1 JSON, got ${json.length}`);
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (e) {
    throw invalid('json', `not valid JSON: ${(e as Error).message}`);
  }
  try {
    graphFromDocument(doc);
  } catch (e) {
    if (e instanceof WotError) throw new DomainError('INVALID_ARGUMENT', `json: ${e.message}`);
    throw e;
  }
  const identities = (doc as { identities: WotIdentityData[] }).identities;
  if (identities.length === 0) throw invalid('json: identities', 'expected at least one identity');
  return identities.map((idty, i) => {
    if (idty.id > MAX_IDENTITY_ID) throw invalid(`json: identities[${i}].id`, `expected at most ${MAX_IDENTITY_ID}, got ${idty.id}`);
    return { id: idty.id, member: idty.member, certifiedBy: [...idty.certifiedBy] };
  });
}

/** Splits the identities into WotImported events of at most IMPORT_CHUNK_BYTES of JSON each. */
export function importEvents(identities: readonly WotIdentityData[], importId: string): EventData[] {
  const chunks: WotIdentityData[][] = [];
  let current: WotIdentityData[] = [];
  let size = 0;
  for (const idty of identities) {
    const bytes = JSON.stringify(idty).length + 1;
    if (bytes > IMPORT_CHUNK_BYTES) throw precondition(`json: identity ${idty.id} alone exceeds ${IMPORT_CHUNK_BYTES} bytes`);
    if (size + bytes > IMPORT_CHUNK_BYTES && current.length > 0) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(idty);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks.map((ids, chunk) => distanceEvent({ type: 'WotImported', data: { importId, chunk, chunks: chunks.length, identities: ids } }));
}
