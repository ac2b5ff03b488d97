import {
  blockHeightOf, withEntry, type GroupRegisteredEvent, type GroupStatusChangedEvent, type OperatorSubscribedEvent,
  type OperatorUnsubscribedEvent, type RecordedEvent, type RewardPeriodScheduleChangedEvent, type RoundAlertEvent,
  type RoundClosedEvent, type RoundSettledEvent, type RoundSnapshotEvent, type RoundStartedEvent, type RoundUnresolvedEvent,
  type SolutionRegisteredEvent, type SolutionStatusChangedEvent, type StakeReleasedEvent, type StakeToppedUpEvent,
  type VoteCastEvent, type WorkerConnectedEvent, type WorkerDisconnectedEvent, type WorkerNominatedEvent,
} from '@ewx/platform';
import { roundKey, type VotingState } from './state.js';

type Handler = (s: VotingState, data: never) => void;

const handlers: Record<string, Handler> = {
  RewardPeriodScheduleChanged: (s, d: RewardPeriodScheduleChangedEvent) => { s.schedule = withEntry(s.schedule, d); },
  GroupRegistered: (s, d: GroupRegisteredEvent) => { s.groups.set(d.group, { owner: d.owner, status: 'ACTIVE' }); },
  GroupStatusChanged: (s, d: GroupStatusChangedEvent) => { const g = s.groups.get(d.group); if (g) g.status = d.status; },
  SolutionRegistered: (s, d: SolutionRegisteredEvent) => {
    s.solutions.set(d.solution, { solution: d.solution, owner: d.owner, group: d.config.group, config: d.config, status: 'ACTIVE' });
  },
  SolutionStatusChanged: (s, d: SolutionStatusChangedEvent) => { const x = s.solutions.get(d.solution); if (x) x.status = d.status; },
  WorkerNominated: (s, d: WorkerNominatedEvent) => {
    let n = s.nominations.get(d.solution);
    if (!n) s.nominations.set(d.solution, (n = new Set()));
    n.add(d.worker);
  },
  WorkerUnnominated: (s, d: WorkerNominatedEvent) => { s.nominations.get(d.solution)?.delete(d.worker); },
  OperatorSubscribed: (s, d: OperatorSubscribedEvent) => {
    let g = s.subscriptions.get(d.group);
    if (!g) s.subscriptions.set(d.group, (g = new Map()));
    g.set(d.operator, { activeFromPeriod: d.activeFromPeriod });
  },
  // A top-up does not delay eligibility: the stake was already active. Only an unknown subscription is created.
  StakeToppedUp: (s, d: StakeToppedUpEvent) => {
    let g = s.subscriptions.get(d.group);
    if (!g) s.subscriptions.set(d.group, (g = new Map()));
    if (!g.has(d.operator)) g.set(d.operator, { activeFromPeriod: d.activeFromPeriod });
  },
  OperatorUnsubscribed: (s, d: OperatorUnsubscribedEvent) => { const x = s.subscriptions.get(d.group)?.get(d.operator); if (x) x.finalPeriod = d.finalPeriod; },
  StakeReleased: (s, d: StakeReleasedEvent) => { s.subscriptions.get(d.group)?.delete(d.operator); },
  WorkerConnected: (s, d: WorkerConnectedEvent) => { s.workerOf.set(d.operator, d.worker); s.operatorOf.set(d.worker, d.operator); },
  WorkerDisconnected: (s, d: WorkerDisconnectedEvent) => {
    if (s.workerOf.get(d.operator) === d.worker) s.workerOf.delete(d.operator);
    if (s.operatorOf.get(d.worker) === d.operator) s.operatorOf.delete(d.worker);
  },
  RoundStarted: (s, d: RoundStartedEvent) => {
    const key = roundKey(d.solution, d.roundId);
    s.rounds.set(key, {
      solution: d.solution, roundId: d.roundId, group: d.group, starter: d.starter, startBlock: d.startBlock, endBlock: d.endBlock,
      period: d.period, quorumPercent: d.quorumPercent, voteThresholdPercent: d.voteThresholdPercent, unresolvedPolicy: d.unresolvedPolicy,
      ...(d.retryOf !== undefined ? { retryOf: d.retryOf } : {}), eligible: d.eligible,
      snapshot: new Map(), votes: new Map(), status: 'ACTIVE', alerted: false, seq: s.rounds.size,
    });
    s.active.add(key);
    let l = s.bySolution.get(d.solution);
    if (!l) s.bySolution.set(d.solution, (l = []));
    l.push(key);
  },
  RoundSnapshot: (s, d: RoundSnapshotEvent) => {
    const r = s.rounds.get(roundKey(d.solution, d.roundId));
    if (r) for (const [w, o] of d.workers) r.snapshot.set(w, o);
  },
  VoteCast: (s, d: VoteCastEvent) => { s.rounds.get(roundKey(d.solution, d.roundId))?.votes.set(d.worker, d.result); },
  RoundClosed: (s, d: RoundClosedEvent) => {
    const key = roundKey(d.solution, d.roundId);
    const r = s.rounds.get(key);
    if (r && r.status === 'ACTIVE') r.status = 'OFF_CHAIN_VOTE';
    s.active.delete(key);
  },
  RoundSettled: (s, d: RoundSettledEvent) => {
    const r = s.rounds.get(roundKey(d.solution, d.roundId));
    if (r) Object.assign(r, { status: 'SETTLED', result: d.result, top: d.tally.top, merkleRoot: d.merkleRoot });
  },
  RoundUnresolved: (s, d: RoundUnresolvedEvent) => {
    const r = s.rounds.get(roundKey(d.solution, d.roundId));
    if (r) Object.assign(r, { status: 'UNRESOLVED', reason: d.reason, top: d.tally.top, merkleRoot: d.merkleRoot });
  },
  RoundAlert: (s, d: RoundAlertEvent) => { const r = s.rounds.get(roundKey(d.solution, d.roundId)); if (r) r.alerted = true; },
};

export function evolve(s: VotingState, e: RecordedEvent): VotingState {
  const h = blockHeightOf(e);
  if (h !== undefined) { s.height = h; return s; }
  handlers[e.type]?.(s, e.data as never);
  return s;
}
