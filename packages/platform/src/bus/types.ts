/** The bus port: topics of keyed messages, consumer groups, at-least-once delivery. */
export interface OutgoingMessage {
  readonly key: string;
  readonly value: string;
  /** Kafka record headers: the W3C trace context of the event (`traceparent`), when traced. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface IncomingMessage extends OutgoingMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Resolves when handled; the offset is committed only then. A throw redelivers. */
  readonly handler: (message: IncomingMessage) => Promise<void>;
  /**
   * Optional: handles a run of messages of one partition, in order, at once (a bus that fetches in
   * batches calls it instead of `handler`). Resolves when all are handled; a throw redelivers them
   * (the handler deduplicates).
   */
  readonly handleBatch?: (messages: readonly IncomingMessage[]) => Promise<void>;
  /**
   * Aborts the start (the replica or partition stops while its consumer is still joining): `consume`
   * rejects with a {@link ConsumeAborted} and leaves no member in the group. Before the join is
   * sent it rejects at once; while a join is under way (Kafka: JoinGroup then SyncGroup, which the
   * client cannot cancel without leaving a member behind) it waits for the join to end, then leaves
   * (LeaveGroup), at most a session timeout, after which it rejects and leaves once the join ends.
   * A signal aborted after `consume` resolved does nothing: the caller stops the consumer. Buses
   * whose start has no wait (in-process, log tail) ignore it.
   */
  readonly signal?: AbortSignal;
}

/** What `consume` rejects with when its {@link ConsumerOptions.signal} aborts its start. */
export class ConsumeAborted extends Error {
  readonly isConsumeAborted = true;
  constructor(
    readonly groupId: string,
    where: string,
    reason: unknown,
  ) {
    const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : undefined;
    super(`consumer group ${groupId}: start aborted ${where}${why && !(reason instanceof DOMException) ? `: ${why}` : ''}`);
    this.name = 'ConsumeAborted';
  }
}
export const isConsumeAborted = (e: unknown): e is ConsumeAborted =>
  typeof e === 'object' && e !== null && (e as { isConsumeAborted?: unknown }).isConsumeAborted === true;

export interface Consumer {
  /** Leaves the group (Kafka: LeaveGroup, so its partitions are reassigned at once) and stops. */
  stop(): Promise<void>;
  /**
   * Resolves once every message its topics held when the member began to join has been handled,
   * on the partitions assigned to it, with how many were still to handle when the wait began;
   * `onProgress` is told how many remain.
   * Absent: the bus has no backlog to wait for.
   */
  caughtUp?(onProgress?: (behind: number) => void): Promise<{ messages: number }>;
}

export interface Bus {
  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  consume(options: ConsumerOptions): Promise<Consumer>;
  close(): Promise<void>;
  /** Resolves when the broker answers (health); absent: nothing to probe (in-process buses). */
  probe?(): Promise<void>;
}

/** `ewx.<service>.events.v1`; a namespace (tests, several systems on one cluster) prefixes it. */
export const topicOf = (service: string, namespace = ''): string => `${namespace ? `${namespace}.` : ''}ewx.${service}.events.v1`;
