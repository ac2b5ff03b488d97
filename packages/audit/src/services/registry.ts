import { decodeRegistryLog, upcast } from '@ewx/contracts';
import type { EventData } from '@ewx/platform';
import { decide, registryDecider, type RegistryCommand, type RegistryPolicy, type RegistryState } from '@ewx/registry';
import { dueCommands } from '@ewx/registry/app/reactions';
import { TREASURY } from '@ewx/registry/domain/ledger';
import { canonical, fact, metaOf, type Ctx, type ServiceAudit } from '../runner.js';
import type { LogEvent } from '../types.js';

export interface CreditFact {
  position: bigint;
  type: string;
  payouts: string;
}
export interface HoldFact {
  position: bigint;
  type: string;
  placedBy?: string;
}

/**
 * The ledger watched: every account the fold reaches (all movements go through the accounts map)
 * is marked, and after each event only those are summed again, so the invariant is checked at
 * every position in time proportional to the accounts the event touched.
 */
function watchLedger(s: RegistryState): { settle(onNegative: (account: string, field: string, value: bigint) => void): bigint } {
  let total = 0n;
  const accounts = s.ledger.accounts;
  const shadow = new Map<string, bigint>();
  const dirty = new Set<string>();
  const get = accounts.get.bind(accounts);
  const set = accounts.set.bind(accounts);
  accounts.get = (a: string) => {
    dirty.add(a);
    return get(a);
  };
  accounts.set = (a: string, b) => {
    dirty.add(a);
    return set(a, b);
  };
  return {
    settle(onNegative) {
      for (const a of dirty) {
        const b = get(a);
        if (!b) continue;
        const sum = b.free + b.reserved + b.unclaimed;
        total += sum - (shadow.get(a) ?? 0n);
        shadow.set(a, sum);
        if (b.free < 0n) onNegative(a, 'free', b.free);
        if (b.reserved < 0n) onNegative(a, 'reserved', b.reserved);
        if (b.unclaimed < 0n) onNegative(a, 'unclaimed', b.unclaimed);
      }
      dirty.clear();
      return total;
    },
  };
}

/** The command a signed registry event came from, where the event carries all of it. */
function signedCommand(e: LogEvent, signer: string, cosigner: string | undefined): RegistryCommand | undefined {
  const ev = decodeRegistryLog(e);
  switch (ev?.type) {
    case 'Deposited':
      return { type: 'Deposit', signer, account: ev.data.account, amount: ev.data.amount };
    case 'Withdrawn':
      return { type: 'Withdraw', signer, account: ev.data.account, amount: ev.data.amount };
    case 'Transferred':
      return { type: 'Transfer', signer, to: ev.data.to, amount: ev.data.amount };
    case 'HoldPlaced': {
      const d = ev.data;
      return { type: 'PlaceHold', signer, holdId: d.holdId, account: d.account, amount: d.amount, purpose: d.purpose };
    }
    case 'RegistrarSignedUp':
      return { type: 'SignUpRegistrar', signer, friendlyName: ev.data.friendlyName, legalLocation: ev.data.legalLocation };
    case 'StakeToppedUp':
      return { type: 'TopUpStake', signer, group: ev.data.group, amount: ev.data.amount };
    case 'OperatorUnsubscribed':
      return { type: 'Unsubscribe', signer, group: ev.data.group };
    case 'WorkerConnected':
      return { type: 'ConnectWorker', signer, worker: ev.data.worker, operator: ev.data.operator, consentBy: cosigner };
    case 'RewardsClaimed':
      return { type: 'ClaimRewards', signer, groups: ev.data.groups.map((g) => g.group) };
    default:
      return undefined;
  }
}

/**
 * The registry: the ledger invariant (SPEC §2) and no negative balance at every position; each
 * reaction's events (credits, hold settlements, stake releases, removals) are what the due
 * reactions decide on the state before them; ledger commands re-decided from their events under
 * the signer's authority. Admins and hold-placing services (configuration, not in the log) are
 * reported as notes.
 */
export function registryAudit(): ServiceAudit<RegistryState> {
  let watched: ReturnType<typeof watchLedger> | undefined;
  const admins = new Set<string>();
  return {
    service: 'registry',
    decider: {
      initialState() {
        const s = registryDecider.initialState();
        watched = watchLedger(s);
        return s;
      },
      evolve: registryDecider.evolve,
    },
    own(e, s, ctx) {
      const m = metaOf(e);
      if (m.signer === undefined) {
        // Unsigned: the registry's own reactions. One of the commands due now must give this event.
        ctx.count('reaction');
        const candidates = dueCommands(s);
        for (const c of candidates) {
          let events: EventData[];
          try {
            events = decide(c, s, { admin: '', ledgerServiceAccounts: [] });
          } catch {
            continue;
          }
          if (events.length > 0 && canonical(events[0]!) === canonical(upcast(e))) {
            ctx.expect('reaction', events);
            return;
          }
        }
        ctx.diverge(
          'reaction',
          `${e.type} is signed by nobody and none of the reactions due here (${candidates.map((c) => c.type).join(', ') || 'none'}) gives it`,
          { recorded: canonical(e) },
        );
        return;
      }
      const cmd = signedCommand(e, m.signer, m.cosigners?.[0]?.signer);
      if (cmd === undefined) return;
      if (cmd.type === 'Deposit' || cmd.type === 'Withdraw') admins.add(m.signer);
      const policy: RegistryPolicy = { admin: m.signer, ledgerServiceAccounts: [m.signer] };
      ctx.count('command');
      let events: EventData[];
      try {
        events = decide(cmd, s, policy);
      } catch (err) {
        ctx.diverge('command', `${cmd.type} by ${m.signer}, as this ${e.type} records it, is refused by the rules: ${(err as Error).message}`, {
          recorded: canonical(e),
        });
        return;
      }
      if (events.length === 0)
        ctx.diverge('command', `${cmd.type} by ${m.signer} changes nothing under the rules, yet the log records ${e.type}`, { recorded: canonical(e) });
      else ctx.expect('command', events);
    },
    after(e, s, ctx) {
      ctx.count('ledger-invariant');
      const negative: string[] = [];
      const held = watched!.settle((a, f, v) => negative.push(`${a} ${f} ${v}`));
      const owed = s.ledger.deposits - s.ledger.withdrawals;
      if (held !== owed) {
        ctx.diverge(
          'ledger-invariant',
          `after ${e.type}: Σ free + reserved + unclaimed over all accounts is ${held}, deposits − withdrawals is ${owed} (SPEC §2)`,
          { expected: owed.toString(), recorded: held.toString() },
        );
      }
      if (negative.length > 0) ctx.diverge('ledger-negative', `after ${e.type}: negative balance ${negative.join('; ')}`);
      const ev = decodeRegistryLog(e);
      if (ev?.type === 'RewardsCredited' || ev?.type === 'RewardsCreditRefused') {
        const d = ev.data;
        const key = `${d.group}|${d.rewardPeriod}|${d.chunk}`;
        const list = fact(ctx.cross, 'registry.credits', () => new Map<string, CreditFact[]>());
        const payouts = ev.type === 'RewardsCredited' ? JSON.stringify(ev.data.payouts) : '';
        list.set(key, [...(list.get(key) ?? []), { position: e.position, type: e.type, payouts }]);
      }
      if (ev?.type === 'HoldReleased' || ev?.type === 'HoldSlashed' || ev?.type === 'HoldPlaced') {
        const list = fact(ctx.cross, 'registry.holds', () => new Map<string, HoldFact[]>());
        const id = ev.data.holdId;
        list.set(id, [...(list.get(id) ?? []), { position: e.position, type: e.type, ...(ev.type === 'HoldPlaced' ? { placedBy: ev.data.placedBy } : {}) }]);
      }
    },
    finish(s, ctx) {
      if (admins.size > 0) ctx.note('configuration', `accounts that acted as admin (deposits, withdrawals): ${[...admins].join(', ')}`);
      const treasury = s.ledger.accounts.get(TREASURY);
      ctx.note(
        'summary',
        `ledger at the end: deposits ${s.ledger.deposits}, withdrawals ${s.ledger.withdrawals}, ${s.ledger.accounts.size} accounts, treasury ${treasury ? treasury.free : 0n}`,
      );
    },
  };
}

export type RegistryCtx = Ctx;
