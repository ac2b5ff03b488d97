import { BLOCK_PRODUCED, BLOCKS_PRODUCED } from './blocks.js';
import type { Bus, Consumer, IncomingMessage } from './bus/types.js';
import { topicOf } from './bus/types.js';
import { envelopesOf, type Delivered, type Envelope } from './envelope.js';
import type { Logger } from './log.js';
import { consumeSpan } from './telemetry/kafka.js';
import { ingestSpan } from './telemetry/runtime.js';
import { traceCarrier, unrecordedChildCarrier } from './telemetry/trace.js';
import { isInboxGap, type Runtime } from './runtime.js';

/** The consumer group of a service's inbox: `ewx-<service>`, after the namespace if any. */
export const inboxGroupOf = (service: string, namespace = ''): string => `${namespace ? `${namespace}.` : ''}ewx-${service}`;

/**
 * A service's reaction to other services: one consumer group per service reads their topics and
 * records the wanted events in its own log (deduplicated by source stream and version), so a
 * replay of its log alone sees the same inputs in the same order.
 */
/** Events recorded per runtime turn by a batched inbox (a run record may hold more: it is sliced). */
const SLICE = 500;
/** A block or a run of blocks: recorded on a turn of its own. */
const BLOCK_TYPES: ReadonlySet<string> = new Set([BLOCK_PRODUCED, BLOCKS_PRODUCED]);
/** One event of a fetched record (a record holds one event, or a run of them: envelope.ts). */
type Delivery = Delivered & { readonly m: IncomingMessage };

/** `signal` aborts the start (the consumer's join: ConsumerOptions.signal); it rejects with a ConsumeAborted. */
export function startInbox<S>(
  bus: Bus,
  runtime: Runtime<S>,
  wanted: Record<string, readonly string[]>,
  log: Logger,
  namespace = '',
  signal?: AbortSignal,
): Promise<Consumer> {
  const topics = Object.keys(wanted).map((s) => topicOf(s, namespace));
  const types = new Map(Object.entries(wanted).map(([s, t]) => [s, new Set(t)]));
  const ingestBatch = runtime.ingestBatch?.bind(runtime);
  // A slice of fetched events: the wanted ones recorded with one append per run of one source
  // stream. Each event still has its consumer span where spans are recorded (continuing the event's
  // own trace: the record's headers, or its entry in a run record), and its record the trace of that span.
  const recordSlice = async (deliveries: readonly Delivery[], ingest: NonNullable<typeof ingestBatch>): Promise<void> => {
    const envs: Envelope[] = [];
    const traces: (Record<string, string> | undefined)[] = [];
    const spans: Promise<void>[] = [];
    let settle!: (r: boolean[] | undefined, e?: unknown) => void;
    const done = new Promise<boolean[]>((resolve, reject) => {
      settle = (r, e) => (r ? resolve(r) : reject(e));
    });
    for (const { m, envelope: env, trace } of deliveries) {
      if (!types.get(env.source)?.has(env.type)) continue;
      const k = envs.push(env) - 1;
      // Spans that nobody records (no exporter, or an unsampled trace) are not made: the record
      // gets the trace context they would have given it (the message's trace, a new span id).
      const unrecorded = unrecordedChildCarrier(trace);
      if (unrecorded) {
        traces[k] = unrecorded.carrier;
        continue;
      }
      // Synchronously (the spans start at once): its consumer span, its record's span, and the trace for its record.
      spans.push(
        consumeSpan(
          runtime.service,
          m,
          async () => {
            await ingestSpan(runtime.service, env, async () => {
              traces[k] = traceCarrier();
              return (await done)[k]!;
            });
          },
          trace,
        ),
      );
    }
    if (envs.length === 0) return;
    // Observed here too: with no span waiting on it (none recorded), a failed batch must still fail
    // this slice (unacknowledged, redelivered), not pass as an unobserved rejection.
    done.catch(() => undefined);
    let failed: { error: unknown } | undefined;
    try {
      const recorded = await ingest(envs, traces);
      recorded.forEach((r, i) => {
        if (!r) log.info('inbox: duplicate delivery ignored', { source: envs[i]!.source, stream: envs[i]!.streamId, version: envs[i]!.version });
      });
      settle(recorded);
    } catch (e) {
      if (isInboxGap(e)) log.error(e.message, { source: e.source, stream: e.sourceStream, version: e.version, gaps: 1 });
      failed = { error: e ?? new Error('inbox batch failed') };
      settle(undefined, failed.error);
    }
    await Promise.all(spans);
    if (failed) throw failed.error;
  };
  return bus.consume({
    groupId: inboxGroupOf(runtime.service, namespace),
    topics,
    ...(signal ? { signal } : {}),
    // At most SLICE events per runtime turn: commands wait for one slice, not a whole fetch. A
    // block is recorded on its own, then the reactions it makes due get their turn before the next
    // one (as when every message was recorded alone): a decision due at a height is taken there.
    ...(ingestBatch
      ? {
          handleBatch: async (messages: readonly IncomingMessage[]) => {
            let group: Delivery[] = [];
            for (const m of messages) {
              for (const d of envelopesOf(m.value, m.headers)) {
                const block = BLOCK_TYPES.has(d.envelope.type);
                if (block || group.length >= SLICE) {
                  await recordSlice(group, ingestBatch);
                  group = [];
                }
                group.push({ ...d, m });
                if (block) {
                  await recordSlice(group, ingestBatch);
                  group = [];
                  await new Promise((r) => setImmediate(r));
                }
              }
            }
            await recordSlice(group, ingestBatch);
          },
        }
      : {}),
    // A record's events in order, each in its consumer span; a throw redelivers the record (the
    // events before the failed one are deduplicated then).
    handler: async (m) => {
      for (const { envelope: env, trace } of envelopesOf(m.value, m.headers)) {
        if (!types.get(env.source)?.has(env.type)) continue;
        await consumeSpan(
          runtime.service,
          m,
          async () => {
            let recorded: boolean;
            try {
              recorded = await runtime.ingest(env);
            } catch (e) {
              // Redelivered with backoff by the bus, never skipped: the service stays behind, loudly.
              if (isInboxGap(e)) log.error(e.message, { source: env.source, stream: env.streamId, version: env.version, gaps: 1 });
              throw e;
            }
            if (!recorded) log.info('inbox: duplicate delivery ignored', { source: env.source, stream: env.streamId, version: env.version });
          },
          trace,
        );
      }
    },
  });
}
