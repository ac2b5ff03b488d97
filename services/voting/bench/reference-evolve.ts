import { decodeVotingLog, unhandled, withEntry } from '@ewx/contracts';
import type { RecordedEvent } from '@ewx/platform/domain';
import { roundKey, type VotingState } from './reference-state.js';

/**
 * The baseline of bench/memory.bench.ts: voting's fold before bounded memory (commit 21fbf08), which
 * kept every round's snapshot and votes for ever. Bench only; not used by the service.
 */
export function evolve(s: VotingState, e: RecordedEvent): VotingState {
  const ev = decodeVotingLog(e);
  if (!ev) return s;
  switch (ev.type) {
    case 'BlockProduced':
      s.height = ev.data.height;
      break;
    // A run of blocks: the rounds that ended inside it are closed by the reaction (consensus cuts runs at round ends).
    case 'BlocksProduced':
      s.height = ev.data.to;
      break;
    case 'RewardPeriodScheduleChanged':
      s.schedule = withEntry(s.schedule, ev.data);
      break;
    case 'GroupRegistered':
      s.groups.set(ev.data.group, { owner: ev.data.owner, status: 'ACTIVE' });
      break;
    case 'GroupStatusChanged': {
      const g = s.groups.get(ev.data.group);
      if (g) g.status = ev.data.status;
      break;
    }
    case 'SolutionRegistered': {
      const d = ev.data;
      s.solutions.set(d.solution, { solution: d.solution, owner: d.owner, group: d.config.group, config: d.config, status: 'ACTIVE' });
      break;
    }
    case 'SolutionStatusChanged': {
      const x = s.solutions.get(ev.data.solution);
      if (x) x.status = ev.data.status;
      break;
    }
    case 'WorkerNominated': {
      let n = s.nominations.get(ev.data.solution);
      if (!n) {
        n = new Set();
        s.nominations.set(ev.data.solution, n);
      }
      n.add(ev.data.worker);
      break;
    }
    case 'WorkerUnnominated':
      s.nominations.get(ev.data.solution)?.delete(ev.data.worker);
      break;
    case 'OperatorSubscribed': {
      let g = s.subscriptions.get(ev.data.group);
      if (!g) {
        g = new Map();
        s.subscriptions.set(ev.data.group, g);
      }
      g.set(ev.data.operator, { activeFromPeriod: ev.data.activeFromPeriod });
      break;
    }
    // A top-up does not delay eligibility: the stake was already active. Only an unknown subscription is created.
    case 'StakeToppedUp': {
      let g = s.subscriptions.get(ev.data.group);
      if (!g) {
        g = new Map();
        s.subscriptions.set(ev.data.group, g);
      }
      if (!g.has(ev.data.operator)) g.set(ev.data.operator, { activeFromPeriod: ev.data.activeFromPeriod });
      break;
    }
    case 'OperatorUnsubscribed': {
      const x = s.subscriptions.get(ev.data.group)?.get(ev.data.operator);
      if (x) x.finalPeriod = ev.data.finalPeriod;
      break;
    }
    case 'StakeReleased':
      s.subscriptions.get(ev.data.group)?.delete(ev.data.operator);
      break;
    case 'WorkerConnected':
      s.workerOf.set(ev.data.operator, ev.data.worker);
      s.operatorOf.set(ev.data.worker, ev.data.operator);
      break;
    case 'WorkerDisconnected': {
      const d = ev.data;
      if (s.workerOf.get(d.operator) === d.worker) s.workerOf.delete(d.operator);
      if (s.operatorOf.get(d.worker) === d.operator) s.operatorOf.delete(d.worker);
      break;
    }
    case 'RoundStarted': {
      const d = ev.data;
      const key = roundKey(d.solution, d.roundId);
      s.rounds.set(key, {
        solution: d.solution,
        roundId: d.roundId,
        group: d.group,
        starter: d.starter,
        startBlock: d.startBlock,
        endBlock: d.endBlock,
        period: d.rewardPeriod,
        quorumPercent: d.quorumPercent,
        voteThresholdPercent: d.voteThresholdPercent,
        unresolvedPolicy: d.unresolvedPolicy,
        ...(d.retryOf !== undefined ? { retryOf: d.retryOf } : {}),
        eligible: d.eligible,
        snapshot: new Map(),
        votes: new Map(),
        status: 'ACTIVE',
        alerted: false,
        seq: s.rounds.size,
      });
      s.active.add(key);
      if (d.retryOf !== undefined) s.retryPending.delete(roundKey(d.solution, d.retryOf));
      let l = s.bySolution.get(d.solution);
      if (!l) {
        l = [];
        s.bySolution.set(d.solution, l);
      }
      l.push(key);
      break;
    }
    case 'RoundSnapshot': {
      const r = s.rounds.get(roundKey(ev.data.solution, ev.data.roundId));
      if (r) for (const [w, o] of ev.data.workers) r.snapshot.set(w, o);
      break;
    }
    case 'VoteCast':
      s.rounds.get(roundKey(ev.data.solution, ev.data.roundId))?.votes.set(ev.data.worker, ev.data.result);
      break;
    case 'VotesCast': {
      const r = s.rounds.get(roundKey(ev.data.solution, ev.data.roundId));
      for (const [worker, result] of ev.data.votes) r?.votes.set(worker, result);
      break;
    }
    case 'RoundClosed': {
      const key = roundKey(ev.data.solution, ev.data.roundId);
      const r = s.rounds.get(key);
      if (r && r.status === 'ACTIVE') r.status = 'OFF_CHAIN_VOTE';
      s.active.delete(key);
      break;
    }
    case 'RoundSettled': {
      const d = ev.data;
      const r = s.rounds.get(roundKey(d.solution, d.roundId));
      if (r) Object.assign(r, { status: 'SETTLED', result: d.result, top: d.tally.top, merkleRoot: d.merkleRoot });
      break;
    }
    case 'RoundUnresolved': {
      const d = ev.data;
      const r = s.rounds.get(roundKey(d.solution, d.roundId));
      if (r) Object.assign(r, { status: 'UNRESOLVED', reason: d.reason, top: d.tally.top, merkleRoot: d.merkleRoot });
      if (r?.unresolvedPolicy === 'RETRY_ONCE' && !r.alerted) s.retryPending.add(roundKey(d.solution, d.roundId));
      break;
    }
    case 'RoundAlert': {
      const key = roundKey(ev.data.solution, ev.data.roundId);
      const r = s.rounds.get(key);
      if (r) r.alerted = true;
      s.retryPending.delete(key);
      break;
    }
    default:
      unhandled(ev);
  }
  return s;
}
