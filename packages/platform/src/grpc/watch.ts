import { blockHeightOf } from '../blocks.js';
import { INBOX_PREFIX } from '../envelope.js';
import { invalid, quote } from '../errors.js';
import { comparePositions, parsePosition, START, type LogPosition, type RecordedEvent } from '../eventstore/types.js';
import type { Logger } from '../log.js';
import type { Runtime } from '../runtime.js';
import { serverStream } from './server.js';

/** `ewx.v1.WatchRequest` (common.proto), as ts-proto generates it. */
export interface WatchRequestMessage {
  readonly fromPosition: string;
  readonly types: readonly string[];
  readonly includeInputs: boolean;
}

/** `ewx.v1.WatchEvent` (common.proto), as ts-proto generates it. */
export interface WatchEventMessage {
  position: string;
  streamId: string;
  type: string;
  version: bigint;
  dataJson: string;
  height?: bigint | undefined;
  source: string;
  sourceStreamId: string;
}

export const MAX_WATCH_TYPES = 64;
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,127}$/;
/** Events read from the store per query while catching up. */
const WATCH_BATCH = 500;

export interface WatchQuery {
  readonly from: LogPosition;
  /** Empty: every type. */
  readonly types: ReadonlySet<string>;
  readonly includeInputs: boolean;
}

/** Checks a WatchRequest: INVALID_ARGUMENT naming the field. */
export function watchQueryOf(req: WatchRequestMessage): WatchQuery {
  let from: LogPosition;
  try {
    from = parsePosition(req.fromPosition);
  } catch {
    throw invalid('from_position', `${quote(req.fromPosition)} is not a log position: expected "" (the start) or a position received from this service (decimal components joined by '/')`);
  }
  if (req.types.length > MAX_WATCH_TYPES) throw invalid('types', `at most ${MAX_WATCH_TYPES} event types, got ${req.types.length}`);
  req.types.forEach((t, i) => {
    if (!TYPE_NAME.test(t)) throw invalid(`types[${i}]`, `${quote(t)} is not an event type name ([A-Za-z][A-Za-z0-9_.]*, at most 128 characters)`);
  });
  return { from, types: new Set(req.types), includeInputs: req.includeInputs };
}

interface InputMetadata { readonly source?: string; readonly sourceStream?: string }

function toWatchEvent(service: string, e: RecordedEvent, height: bigint | undefined): WatchEventMessage {
  const input = e.streamId.startsWith(INBOX_PREFIX);
  const m = (input ? e.metadata : undefined) as InputMetadata | null | undefined;
  return {
    position: e.position,
    streamId: e.streamId,
    type: e.type,
    version: BigInt(e.version),
    dataJson: JSON.stringify(e.data),
    ...(height === undefined ? {} : { height }),
    source: input ? (m?.source ?? '') : service,
    sourceStreamId: input ? (m?.sourceStream ?? '') : '',
  };
}

/**
 * Follows a service's log for one Watch call: reads the store from `q.from` in batches, and only
 * up to what the runtime has applied (a client that receives an event can query its effect at
 * once); when caught up, waits for the runtime's next applied event (`onEvent`, which also fires
 * for events other processes sharing the store appended, once the runtime followed them). No
 * polling. Stops when `signal` aborts or `send` says the stream is over.
 */
export async function followLog<S>(runtime: Runtime<S>, q: WatchQuery, send: (e: WatchEventMessage) => Promise<boolean>, signal: AbortSignal): Promise<void> {
  let pos = q.from;
  let height: bigint | undefined = pos === START ? 0n : undefined;
  let dirty = false;
  let wake: (() => void) | undefined;
  const off = runtime.onEvent(() => { dirty = true; wake?.(); });
  const onAbort = (): void => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    while (!signal.aborted) {
      dirty = false;
      const applied = runtime.position();
      let progressed = false;
      if (comparePositions(pos, applied) < 0) {
        const batch = await runtime.store.readAll(pos, WATCH_BATCH);
        for (const e of batch) {
          if (comparePositions(e.position, applied) > 0) break;
          pos = e.position;
          progressed = true;
          const h = blockHeightOf(e);
          if (h !== undefined) height = BigInt(h);
          if (!q.includeInputs && e.streamId.startsWith(INBOX_PREFIX)) continue;
          if (q.types.size > 0 && !q.types.has(e.type)) continue;
          if (!(await send(toWatchEvent(runtime.service, e, height)))) return;
        }
      }
      if (progressed || dirty || signal.aborted) continue;
      await new Promise<void>((resolve) => { wake = resolve; });
      wake = undefined;
    }
  } finally {
    off();
    signal.removeEventListener('abort', onAbort);
  }
}

/** The Watch handler every service serves (`watch: watchHandler('/ewx.v1.<Service>/Watch', runtime, log)`). */
export const watchHandler = <S>(method: string, runtime: Runtime<S>, log: Logger) =>
  serverStream<WatchRequestMessage, WatchEventMessage>(method, log, async (req, out) => {
    const q = watchQueryOf(req);
    await followLog(runtime, q, (e) => out.send(e), out.signal);
  });
