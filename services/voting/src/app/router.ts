import * as grpc from '@grpc/grpc-js';
import {
  comparePositions,
  grpcStatusOf,
  invalid,
  isDomainError,
  parsePosition,
  statusMessage,
  unavailable,
  type GrpcService,
  type LogPosition,
  type Logger,
} from '@ewx/platform';
import type { PartitionStatus } from '@ewx/proto/common';
import { VotingClient, VotingService, type SubmitVoteRequest, type SubmitVotesResponse, type VoteStatus } from '@ewx/proto/voting';
import { partitionOf } from './partitions.js';
import { mergedToken, mergedWatch, type PartitionLogs } from './watch.js';

/** Set on a request one replica forwards to another: the receiver answers it itself or refuses, never forwards again. */
export const FORWARDED = 'ewx-voting-forwarded';
/** Set on a GetStatus one replica asks another: the status of that one partition (its number). */
export const STATUS_OF = 'ewx-voting-status-of';
/**
 * With STATUS_OF, for the merged Watch: a position of that partition's log; the owner answers once
 * it has applied an event after it, or after STATUS_WAIT_MS (at most LONG_POLL_MS), whichever comes
 * first (a long poll: a watcher elsewhere learns of new events at once, and an idle partition costs
 * one call per wait).
 */
export const STATUS_AFTER = 'ewx-voting-status-after';
export const STATUS_WAIT_MS = 'ewx-voting-status-wait-ms';
/** The longest an owner holds a STATUS_AFTER request. */
export const LONG_POLL_MS = 2_000;

type Impl = Record<string, (call: never, callback?: never) => void>;

/** Where a partition's requests go now: this replica's handlers, another replica, or nowhere (why). */
export type Route = { local: Impl } | { remote: string; owner: string } | { none: string };

const UNARY_BY_SOLUTION = ['startRound', 'submitVote', 'getRound', 'listRounds', 'getRoundSnapshot'] as const;

/**
 * The voting gRPC service of a replica of a partitioned voting (VOTING_PARTITIONS > 1): every
 * replica answers the whole API. A request about a solution goes to the partition of the solution
 * (`partitionOf`): answered here if this replica holds it, forwarded to the owner's address (from
 * the lease table) otherwise, UNAVAILABLE naming the owner if it cannot be reached or no replica
 * holds it within the forward timeout (a partition changing hands is waited for) or by the caller's
 * deadline less a margin, whichever comes first (`answerBy`: the caller gets the refusal and retries). SubmitVotes is split by partition and its answers put back in the request's order.
 * GetStatus answers for every partition (the lowest height, each partition's status, the merged
 * Watch's resume token; see `getStatus`); Watch merges every partition log (`mergedWatch`, when
 * `logs` is given: local partitions from their runtime, the others straight from PostgreSQL).
 */
export function votingRouter(o: {
  partitions: number;
  route(k: number): Route;
  forwardTimeoutMs: number;
  log: Logger;
  /** How to reach another replica (`channelCredentials(clientTlsFrom(env))`); default plaintext. */
  credentials?: grpc.ChannelCredentials;
  /** Over TLS: the name the other replica's certificate must have (default: the host of its address). */
  tlsName?: string;
  /** The partition logs, for Watch (without them Watch is UNAVAILABLE: router tests with stand-in partitions). */
  logs?: Omit<PartitionLogs, 'partitions' | 'applied' | 'log'>;
  /** This replica's id (VOTING_REPLICA_ID): the owner GetStatus names for the partitions held here. */
  replica?: string;
}): GrpcService & { close(): void } {
  const clients = new Map<string, VotingClient>();
  const credentials = o.credentials ?? grpc.credentials.createInsecure();
  const channelOptions: grpc.ChannelOptions =
    o.tlsName === undefined ? {} : { 'grpc.ssl_target_name_override': o.tlsName, 'grpc.default_authority': o.tlsName };
  const clientOf = (address: string): VotingClient => {
    let c = clients.get(address);
    if (!c) {
      c = new VotingClient(address, credentials, channelOptions);
      clients.set(address, c);
    }
    return c;
  };
  const refuse = (e: unknown): Partial<grpc.StatusObject> => ({ code: grpcStatusOf(e), details: statusMessage(e), metadata: new grpc.Metadata() });

  /** The route of partition k, or the refusal to answer with (a forwarded request is never forwarded again). */
  const routeOf = (k: number, forwarded: boolean, what: string): Route => {
    const r = o.route(k);
    if ('remote' in r && forwarded)
      return { none: `voting partition ${k} (${what}) moved while the request was forwarded (now owned by replica ${r.owner}); retry` };
    return r;
  };
  /**
   * The route of partition k once some replica holds it: while a partition changes hands (a
   * rebalance when a replica joins or leaves, a take-over after a lease expired) it has no owner for
   * a moment; a request waits for one up to the forward timeout instead of failing at once, and
   * never past `answerBy` (its caller's deadline less a margin): the refusal (UNAVAILABLE, saying
   * why) reaches the caller before its deadline, so it retries instead of seeing DEADLINE_EXCEEDED.
   */
  const awaitRoute = async (k: number, forwarded: boolean, what: string, by = Infinity): Promise<Route> => {
    const until = Math.min(Date.now() + o.forwardTimeoutMs, by);
    while ('none' in o.route(k) && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
    return routeOf(k, forwarded, what);
  };

  const forward = <Res>(address: string, owner: string, k: number, method: string, request: unknown, md: grpc.Metadata, by = Infinity): Promise<Res> => {
    const m = md.clone();
    m.set(FORWARDED, '1');
    // The owner is given until this replica must answer its caller: past it, the owner's answer
    // would come too late; its own refusal arrives before (it answers by its deadline less a margin).
    const deadline = Math.min(Date.now() + o.forwardTimeoutMs, by);
    return new Promise<Res>((resolve, reject) => {
      const c = clientOf(address) as unknown as Record<string, (...a: unknown[]) => void>;
      c[method]!.call(c, request, m, { deadline }, (e: grpc.ServiceError | null, res: Res) => {
        if (!e) return resolve(res);
        if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED)
          return reject(
            unavailable(
              `voting partition ${k} is owned by replica ${owner} at ${address}, which did not answer (${e.details}); retry: if it is down, another replica takes the partition once its lease expires`,
            ),
          );
        reject(e);
      });
    });
  };

  /** The owner's own answer passes through as it is (status and message); anything else as `unary` would answer it. */
  const toError = (e: unknown): Partial<grpc.StatusObject> => {
    const s = e as Partial<grpc.ServiceError>;
    return !isDomainError(e) && typeof s.code === 'number' ? { code: s.code, details: s.details ?? '', metadata: new grpc.Metadata() } : refuse(e);
  };

  /**
   * When this replica must answer a call at the latest: its deadline less a margin (a fifth of the
   * time left, 50 ms to 1 s) for the answer to travel, or Infinity if the caller set none.
   */
  const answerBy = (call: { getDeadline?: () => grpc.Deadline }): number => {
    const d = call.getDeadline?.();
    const at = d instanceof Date ? d.getTime() : typeof d === 'number' ? d : Infinity;
    if (!Number.isFinite(at)) return Infinity;
    const left = at - Date.now();
    return at - Math.max(50, Math.min(1000, Math.floor(left / 5)));
  };

  /** Answers `callback` with what `answer` resolves to, or its refusal as `toError` words it. */
  const reply = <Res>(answer: Promise<Res>, callback: grpc.sendUnaryData<Res>): void => {
    answer.then(
      (res) => callback(null, res),
      (e) => callback(toError(e) as grpc.ServiceError),
    );
  };

  /**
   * Answers the whole `call` from partition k once some replica holds it (`awaitRoute`): its local
   * handler of `method`, else the owner's answer to the forwarded call, else UNAVAILABLE saying why.
   */
  const answerFrom = <Res>(k: number, method: string, what: string, call: grpc.ServerUnaryCall<unknown, Res>, callback: grpc.sendUnaryData<Res>): void => {
    const by = answerBy(call);
    void awaitRoute(k, call.metadata.get(FORWARDED).length > 0, what, by).then((r) => {
      if ('local' in r) (r.local[method] as unknown as grpc.handleUnaryCall<unknown, Res>)(call, callback);
      else if ('none' in r) callback(refuse(unavailable(r.none)) as grpc.ServiceError);
      else reply(forward<Res>(r.remote, r.owner, k, method, call.request, call.metadata, by), callback);
    });
  };

  const bySolution =
    (method: (typeof UNARY_BY_SOLUTION)[number]) =>
    (call: grpc.ServerUnaryCall<{ solution: string }, unknown>, callback: grpc.sendUnaryData<unknown>): void => {
      const solution = typeof call.request?.solution === 'string' ? call.request.solution : '';
      answerFrom(partitionOf(solution, o.partitions), method, `solution ${solution}`, call, callback);
    };

  /** A local handler called with part of a request (SubmitVotes' votes of one partition). */
  const invokeLocal = <Res>(impl: Impl, method: string, call: grpc.ServerUnaryCall<unknown, unknown>, request: unknown): Promise<Res> =>
    new Promise<Res>((resolve, reject) => {
      const part = Object.assign(Object.create(call) as object, { request });
      (impl[method] as unknown as grpc.handleUnaryCall<unknown, Res>)(part as grpc.ServerUnaryCall<unknown, Res>, (e, res) =>
        e ? reject(e) : resolve(res as Res),
      );
    });

  const submitVotes = (
    call: grpc.ServerUnaryCall<{ votes: SubmitVoteRequest[] }, SubmitVotesResponse>,
    callback: grpc.sendUnaryData<SubmitVotesResponse>,
  ): void => {
    const votes = call.request?.votes ?? [];
    const forwarded = call.metadata.get(FORWARDED).length > 0;
    const by = answerBy(call);
    const parts = new Map<number, number[]>();
    votes.forEach((v, i) => {
      const k = partitionOf(v.solution, o.partitions);
      const at = parts.get(k) ?? [];
      if (at.length === 0) parts.set(k, at);
      at.push(i);
    });
    // One partition (the usual batch of one round's votes): passed on whole, limits and errors included.
    if (parts.size <= 1) {
      answerFrom(parts.keys().next().value ?? 0, 'submitVotes', 'these votes', call, callback);
      return;
    }
    if (votes.length > 10_000) {
      callback(refuse(invalid('votes', 'at most 10000 per call')) as grpc.ServiceError);
      return;
    }
    const results: VoteStatus[] = new Array(votes.length);
    Promise.all(
      [...parts].map(async ([k, at]) => {
        const request = { votes: at.map((i) => votes[i]!) };
        const r = await awaitRoute(k, forwarded, 'votes', by);
        let out: VoteStatus[];
        try {
          if ('none' in r) throw unavailable(r.none);
          const res =
            'local' in r
              ? await invokeLocal<SubmitVotesResponse>(r.local, 'submitVotes', call as never, request)
              : await forward<SubmitVotesResponse>(r.remote, r.owner, k, 'submitVotes', request, call.metadata, by);
          out = res.results;
        } catch (e) {
          const s = toError(e);
          out = at.map(() => ({ code: s.code ?? grpc.status.UNAVAILABLE, message: s.details ?? '', accepted: false }));
        }
        at.forEach((i, j) => {
          results[i] = out[j]!;
        });
      }),
    ).then(
      () => callback(null, { results }),
      (e) => callback(refuse(e) as grpc.ServiceError),
    );
  };

  type Status = {
    service: string;
    logPosition: bigint | number | string;
    height: bigint | number | string;
    position: string;
    partitions?: PartitionStatus[];
    countedHeight?: bigint;
  };
  /** One partition's own status: answered here, or asked of its owner with STATUS_OF (never forwarded again). */
  const statusOf = async (k: number, call: grpc.ServerUnaryCall<unknown, unknown>, forwarded: boolean): Promise<Status> => {
    const by = answerBy(call);
    const r = await awaitRoute(k, forwarded, 'status', by);
    if ('none' in r) throw unavailable(r.none);
    if ('local' in r) return invokeLocal<Status>(r.local, 'getStatus', call, call.request);
    const md = call.metadata.clone();
    md.set(STATUS_OF, String(k));
    return forward<Status>(r.remote, r.owner, k, 'getStatus', call.request, md, by);
  };
  /**
   * GetStatus of a partitioned voting: `height` is the lowest across every partition (each records
   * every block, so a block is recorded by voting once all have it); `position` the merged Watch's
   * resume token (every partition's position: watch from it to follow what happens after this
   * status, on any replica); `partitions` each partition's own status and owner; `service` and
   * `logPosition` are those of the lowest partition held here (partition 0's if none). UNAVAILABLE
   * if some partition has no owner within the forward timeout or its owner does not answer. A
   * request with STATUS_OF asks one partition only (and answers its own status, as a single log).
   */
  const getStatus = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>): void => {
    const forwarded = call.metadata.get(FORWARDED).length > 0;
    const one = call.metadata.get(STATUS_OF)[0];
    const all = async (): Promise<Status> => {
      if (one !== undefined) {
        const k = Number(one);
        if (!Number.isInteger(k) || k < 0 || k >= o.partitions) throw invalid(STATUS_OF, `a partition from 0 to ${o.partitions - 1}`);
        const after = call.metadata.get(STATUS_AFTER)[0];
        if (after !== undefined) await appliedAfter(k, String(after), Number(call.metadata.get(STATUS_WAIT_MS)[0] ?? 0), call);
        // One partition log's own status (no partitions of its own; the field is set so it encodes).
        const own = await statusOf(k, call, true);
        return { ...own, partitions: own.partitions ?? [], countedHeight: 0n };
      }
      const each = await Promise.all(Array.from({ length: o.partitions }, (_, k) => statusOf(k, call, forwarded)));
      let first = 0;
      for (let k = 0; k < o.partitions; k++)
        if ('local' in o.route(k)) {
          first = k;
          break;
        }
      const lowest = each.reduce((m, x) => (BigInt(x.height) < m ? BigInt(x.height) : m), BigInt(each[0]!.height));
      const partitions: PartitionStatus[] = each.map((x, k) => {
        const r = o.route(k);
        return {
          partition: k,
          log: x.service,
          owner: 'remote' in r ? r.owner : 'local' in r ? (o.replica ?? '') : '',
          logPosition: BigInt(x.logPosition),
          height: BigInt(x.height),
          position: x.position,
        };
      });
      // counted_height: consensus's only (set so it encodes, whatever a partition answered).
      return { ...each[first]!, height: lowest, position: mergedToken(each.map((x) => x.position as LogPosition)), partitions, countedHeight: 0n };
    };
    reply(all(), callback);
  };
  /**
   * A STATUS_AFTER request on the partition's owner: resolves once the partition's runtime here has
   * applied an event after `after`, after `waitMs` (at most LONG_POLL_MS), when the partition stops
   * here, or when the caller goes. Answers at once if the partition does not run here.
   */
  const appliedAfter = async (k: number, after: string, waitMs: number, call: grpc.ServerUnaryCall<unknown, unknown>): Promise<void> => {
    let pos: LogPosition;
    try {
      pos = parsePosition(after);
    } catch {
      throw invalid(STATUS_AFTER, `a log position of partition ${k}, got ${JSON.stringify(after)}`);
    }
    const here = o.logs?.local(k);
    if (!here || !(waitMs > 0) || comparePositions(here.runtime.position(), pos) > 0) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        off();
        here.gone.removeEventListener('abort', done);
        call.off?.('cancelled', done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(waitMs, LONG_POLL_MS));
      const off = here.runtime.onEvent(() => done());
      here.gone.addEventListener('abort', done, { once: true });
      call.once?.('cancelled', done);
      // An event applied between the check above and the subscription.
      if (comparePositions(here.runtime.position(), pos) > 0) done();
    });
  };
  /**
   * How far partition k's owner has applied its log (its own status), for the merged Watch: asked
   * here (at once) or of the owner (STATUS_OF), which answers once it applied an event after
   * `after` or after a long-poll wait (STATUS_AFTER); undefined while no replica holds it.
   */
  const applied = async (k: number, after: LogPosition): Promise<LogPosition | undefined> => {
    const r = o.route(k);
    if ('none' in r) return undefined;
    const call = { request: {}, metadata: new grpc.Metadata() } as unknown as grpc.ServerUnaryCall<unknown, unknown>;
    if ('local' in r) return (await invokeLocal<Status>(r.local, 'getStatus', call, {})).position as LogPosition;
    const md = new grpc.Metadata();
    md.set(STATUS_OF, String(k));
    md.set(STATUS_AFTER, after);
    // Well within the forward deadline, which the owner's answer must beat.
    md.set(STATUS_WAIT_MS, String(Math.min(LONG_POLL_MS, Math.floor(o.forwardTimeoutMs / 2))));
    return (await forward<Status>(r.remote, r.owner, k, 'getStatus', {}, md)).position as LogPosition;
  };
  const merged = o.logs ? mergedWatch({ ...o.logs, partitions: o.partitions, applied, log: o.log }) : undefined;
  const watch = (call: grpc.ServerWritableStream<unknown, unknown>): void => {
    if (merged) {
      (merged.handler as unknown as grpc.handleServerStreamingCall<unknown, unknown>)(call);
      return;
    }
    const details = 'this voting router has no partition logs to watch';
    call.destroy(Object.assign(new Error(details), { code: grpc.status.UNAVAILABLE, details }));
  };

  const implementation: grpc.UntypedServiceImplementation = {
    getStatus,
    watch,
    submitVotes,
    ...Object.fromEntries(UNARY_BY_SOLUTION.map((m) => [m, bySolution(m)])),
  };
  return {
    name: 'ewx.v1.Voting',
    definition: VotingService,
    implementation,
    close() {
      merged?.close();
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}
