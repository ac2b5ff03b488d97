import { canonical, copyKey, publishedAt, sameCanonical, type CrossIndex } from './runner.js';
import type { CreditFact, HoldFact } from './services/registry.js';
import type { ClosedRoundFact } from './services/voting.js';
import type { DecidedRoundFact } from './services/consensus.js';
import type { ComputedFact } from './services/rewards.js';
import type { SettledFact } from './services/distance.js';
import type { Divergence, Note, ServiceName } from './types.js';

const get = <T>(cross: CrossIndex, name: string): Map<string, T> => (cross.facts.get(name) as Map<string, T> | undefined) ?? new Map();
const round = (key: string): string => key.replace('\u0000', ' round ');

/**
 * The checks across services: each copy of an event in another service's log equals the event
 * in its source log; every closed round decided once; every settlement's vote metadata recorded
 * by rewards once; every reward chunk credited (or refused) once with the same payouts; every
 * distance settlement applied to its hold once, released or slashed as decided. What has not
 * happened yet at the end of the logs is noted as pending (the services were still at work).
 */
export function crossCheck(cross: CrossIndex, out: { divergences: Divergence[]; notes: Note[] }): Record<string, number> {
  const counts: Record<string, number> = {};
  const count = (c: string): void => {
    counts[c] = (counts[c] ?? 0) + 1;
  };
  const diverge = (check: string, message: string, d: Partial<Divergence> = {}): void => {
    out.divergences.push({ service: 'cross', check, message, ...d });
  };
  const pending = (message: string): void => {
    out.notes.push({ service: 'cross', kind: 'pending', message });
  };
  const has = (...s: ServiceName[]): boolean => s.every((x) => cross.present.has(x));

  for (const c of cross.copies) {
    if ('checked' in c) {
      // Compared as they were read (recordCopy): equal to their originals.
      counts.copies = (counts.copies ?? 0) + c.checked;
      continue;
    }
    const source = c.source as ServiceName;
    if (!cross.present.has(source)) continue;
    count('copies');
    const original = publishedAt(cross.published, c.source, c.sourceStream, c.sourceVersion);
    if (original === undefined) {
      diverge('copies', `${c.service} recorded ${c.type} from ${copyKey(c).replace(/\|/g, ' ')}, which the ${source} log does not have`, {
        position: c.position,
        recorded: canonical(c.event),
      });
    } else if (!sameCanonical(original, c.event)) {
      diverge('copies', `${c.service}'s copy of ${source}'s ${c.type} (${c.sourceStream} v${c.sourceVersion}) differs from the original`, {
        position: c.position,
        expected: canonical(original),
        recorded: canonical(c.event),
      });
    }
  }

  if (has('voting', 'consensus')) {
    const closed = get<ClosedRoundFact>(cross, 'voting.closed');
    const decided = get<DecidedRoundFact[]>(cross, 'consensus.decided');
    for (const [key, c] of closed) {
      count('rounds-decided');
      const d = decided.get(key) ?? [];
      if (d.length === 0) pending(`${round(key)} closed in voting (position ${c.position}) is not decided by the validators yet`);
      if (d.length > 1) diverge('rounds-decided', `${round(key)} decided ${d.length} times`, { position: d[1]!.position });
    }
    for (const [key, d] of decided)
      if (!closed.has(key)) diverge('rounds-decided', `${round(key)} decided in consensus but never closed in voting's log`, { position: d[0]!.position });
  }

  if (has('consensus', 'rewards')) {
    const produced = get<bigint>(cross, 'consensus.metadata');
    const recorded = get<bigint[]>(cross, 'rewards.metadata');
    for (const [key] of produced) {
      count('metadata-recorded');
      const r = recorded.get(key) ?? [];
      if (r.length === 0) pending(`vote metadata ${key.replace(/\|/g, ' ')} not recorded by rewards yet`);
      if (r.length > 1) diverge('metadata-recorded', `vote metadata ${key.replace(/\|/g, ' ')} recorded ${r.length} times by rewards`, { position: r[1] });
    }
  }

  if (has('rewards', 'registry')) {
    const computed = get<ComputedFact>(cross, 'rewards.computed');
    const credits = get<CreditFact[]>(cross, 'registry.credits');
    for (const [key, c] of computed) {
      count('rewards-credited');
      const got = credits.get(key) ?? [];
      const what = `rewards of group ${key.replace(/\|/, ' period ').replace(/\|/, ' chunk ')}`;
      if (got.length === 0) pending(`${what} (rewards position ${c.position}) not credited by the registry yet`);
      if (got.length > 1) diverge('rewards-credited', `${what} credited ${got.length} times`, { position: got[1]!.position });
      const credited = got.find((g) => g.type === 'RewardsCredited');
      if (credited && credited.payouts !== c.payouts) {
        diverge('rewards-credited', `${what}: the registry credited other amounts than rewards decided`, {
          position: credited.position,
          expected: c.payouts,
          recorded: credited.payouts,
        });
      }
    }
    for (const [key, got] of credits)
      if (!computed.has(key))
        diverge('rewards-credited', `the registry credited rewards of ${key.replace(/\|/g, ' ')} that rewards never decided`, { position: got[0]!.position });
  }

  if (has('distance', 'registry')) {
    const settled = get<SettledFact>(cross, 'distance.settled');
    const holds = get<HoldFact[]>(cross, 'registry.holds');
    for (const [holdId, s] of settled) {
      count('holds-settled');
      const h = holds.get(holdId) ?? [];
      if (!h.some((x) => x.type === 'HoldPlaced')) {
        diverge('holds-settled', `distance settled hold ${holdId}, which the registry never placed`, { position: s.position });
        continue;
      }
      const done = h.filter((x) => x.type !== 'HoldPlaced');
      const want = s.outcome === 'INVALID' ? 'HoldSlashed' : 'HoldReleased';
      if (done.length === 0) pending(`hold ${holdId} (${s.outcome}) not ${want === 'HoldSlashed' ? 'slashed' : 'released'} by the registry yet`);
      if (done.length > 1) diverge('holds-settled', `hold ${holdId} settled ${done.length} times`, { position: done[1]!.position });
      if (done.length > 0 && done[0]!.type !== want)
        diverge('holds-settled', `hold ${holdId}: distance decided ${s.outcome}, the registry ${done[0]!.type === 'HoldSlashed' ? 'slashed' : 'released'} it`, {
          position: done[0]!.position,
          expected: want,
          recorded: done[0]!.type,
        });
    }
    for (const [holdId, h] of holds) {
      const done = h.filter((x) => x.type !== 'HoldPlaced');
      if (holdId.startsWith('distance:') && done.length > 0 && !settled.has(holdId))
        diverge('holds-settled', `the registry ${done[0]!.type === 'HoldSlashed' ? 'slashed' : 'released'} hold ${holdId}, which distance never settled`, {
          position: done[0]!.position,
        });
    }
  }
  return counts;
}
