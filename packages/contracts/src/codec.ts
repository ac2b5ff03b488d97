/**
 * Encoding and decoding between the typed events of the unions and the store's `{ type, data }`.
 * This file and upcasters.ts hold the only casts of event data in the code base: everything else
 * builds and reads events through the unions.
 */
import { UPCASTERS } from './upcasters.js';

/** JSON as the store keeps it (the same shape as the platform's `Json`). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** An event as read from a log or a message: its type name and untyped data. */
export interface StoredEvent {
  readonly type: string;
  readonly data: unknown;
}

/** An event ready for the store: what a decider returns. */
export interface EncodedEvent {
  readonly type: string;
  readonly data: Json;
  readonly metadata?: Json;
}

/** A member of an event union. */
export interface TypedEvent {
  readonly type: string;
  readonly data: object;
}

/**
 * Schema version of each event type of a union. Version 1 is the first shape; a version goes up
 * when a shape changes, and the decoder then upcasts older data (`UPCASTERS`, upcasters.ts) unless
 * the new fields are optional and read with a fallback (see the unions).
 */
export type Versions<E extends TypedEvent> = { readonly [T in E['type']]: number };

/** The store form of a typed event; `metadata` (signer, nonce, signature) travels beside the data. */
export function encode<E extends TypedEvent>(e: E, metadata?: Json): EncodedEvent {
  const data = e.data as unknown as Json;
  return metadata === undefined ? { type: e.type, data } : { type: e.type, data, metadata };
}

/**
 * A decoder for union E: a stored event whose type is one of `versions`' keys becomes a member of
 * E; any other type (an event this service records but does not fold) decodes to undefined.
 * The data is trusted as written by the owning service's encoder (logs are append-only and
 * written only through it), so it is not validated again here.
 */
export function decoder<E extends TypedEvent>(versions: Versions<E>): (e: StoredEvent) => E | undefined {
  const types = new Set<string>(Object.keys(versions));
  return (e) => {
    if (!types.has(e.type)) return undefined;
    const up = UPCASTERS[e.type];
    return { type: e.type, data: up ? up(e.data) : e.data } as unknown as E;
  };
}

/** A stored event in its type's current shape (old versions upcast), e.g. to compare it with a re-decided one. */
export function upcast<T extends StoredEvent>(e: T): T {
  const up = UPCASTERS[e.type];
  return up ? { ...e, data: up(e.data) } : e;
}

/** The compile-time end of an exhaustive `switch` over a union. */
export function unhandled(e: never): never {
  throw new Error(`unhandled event ${JSON.stringify(e)}`);
}

/** The versions of some of a union's types: another service's events that a log records. */
export function pick<E extends TypedEvent, T extends E['type']>(versions: Versions<E>, ...types: readonly T[]): Versions<Extract<E, { type: T }>> {
  return Object.fromEntries(types.map((t) => [t, versions[t]])) as Versions<Extract<E, { type: T }>>;
}
