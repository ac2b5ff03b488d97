import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodePosition, isDomainError, type EventData, type RecordedEvent } from '@ewx/platform';
import { dueCommands } from '../app/reactions.js';
import type { RegistryCommand } from './commands.js';
import { decide } from './decider.js';
import { evolve } from './evolve.js';
import { totalHeld, TREASURY } from './ledger.js';
import { initialState, type RegistryState } from './state.js';
import { addr, ADMIN, groupConfig, POLICY, SERVICE, solutionConfig } from './test-support.js';

/**
 * SPEC §2: at every position of the log, Σ (free + reserved + unclaimed) over all accounts, the
 * treasury included, equals deposits − withdrawals. Thousands of random commands (most refused),
 * with appends dropped and multi-event appends cut short, must never break it. Also checked after
 * every event: no negative balance, each reserved token belongs to exactly one budget, stake or
 * hold, and unclaimed totals match the per-group amounts.
 */

const REGISTRARS = [addr(0x101), addr(0x102)];
const OPS = [addr(0x201), addr(0x202), addr(0x203), addr(0x204)];
const WORKERS = [addr(0x301), addr(0x302), addr(0x303)];
const ACCOUNTS = [...REGISTRARS, ...OPS];
const GROUPS = ['g.one', 'g.two', 'g.three'];
const HOLDS = ['h1', 'h2', 'h3', 'h4'];

type Op =
  | { kind: 'cmd'; cmd: RegistryCommand; keep: number }
  | { kind: 'blocks'; n: number; keep: number }
  | { kind: 'inbox'; type: string; data: unknown }
  | { kind: 'react'; keep: number };

const amount = fc.bigInt({ min: 0n, max: 300n }).map(String);
const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
/** How many of a command's events get applied: all (mostly), none (append dropped) or a prefix (cut short). */
const keep = fc.oneof(
  { weight: 6, arbitrary: fc.constant(99) },
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
);
const cmd = (a: fc.Arbitrary<RegistryCommand>): fc.Arbitrary<Op> => fc.record({ kind: fc.constant('cmd' as const), cmd: a, keep });

const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const op: fc.Arbitrary<Op> = fc.oneof(
  w(
    3,
    cmd(fc.record({ type: fc.constant('Subscribe' as const), signer: pick(OPS), group: pick(GROUPS), stake: fc.bigInt({ min: 5n, max: 60n }).map(String) })),
  ),
  w(2, cmd(fc.record({ type: fc.constant('Unsubscribe' as const), signer: pick(OPS), group: pick(GROUPS) }))),
  w(3, fc.record({ kind: fc.constant('blocks' as const), n: fc.integer({ min: 1, max: 8 }), keep })),
  w(2, cmd(fc.record({ type: fc.constant('ClaimRewards' as const), signer: pick(OPS), groups: fc.subarray(GROUPS) }))),
  w(1, cmd(fc.record({ type: fc.constant('Deposit' as const), signer: fc.constantFrom(ADMIN, ADMIN, OPS[0]!), account: pick(ACCOUNTS), amount }))),
  w(1, cmd(fc.record({ type: fc.constant('Withdraw' as const), signer: fc.constant(ADMIN), account: pick([...ACCOUNTS, TREASURY]), amount }))),
  w(1, cmd(fc.record({ type: fc.constant('Transfer' as const), signer: pick(ACCOUNTS), to: pick(ACCOUNTS), amount }))),
  w(
    1,
    cmd(
      fc.record({ type: fc.constant('SignUpRegistrar' as const), signer: pick(REGISTRARS), friendlyName: fc.constant('R'), legalLocation: fc.constant('DE') }),
    ),
  ),
  w(
    1,
    cmd(
      fc.record({
        type: fc.constant('RegisterGroup' as const),
        signer: pick(REGISTRARS),
        budget: amount,
        allowList: fc.constant([]),
        config: fc
          .record({
            ns: pick(GROUPS),
            min: fc.integer({ min: 1, max: 20 }),
            span: fc.integer({ min: 0, max: 80 }),
            maxOps: fc.integer({ min: 1, max: 3 }),
            delay: fc.integer({ min: 1, max: 2 }),
          })
          .map((c) =>
            groupConfig({
              namespace: c.ns,
              minStake: String(c.min),
              maxStake: String(c.min + c.span),
              maxOperators: c.maxOps,
              withdrawalDelay: c.delay,
              operationEndBlock: 10_000,
            }),
          ),
      }),
    ),
  ),
  w(1, cmd(fc.record({ type: fc.constant('RaiseGroupBudget' as const), signer: pick(REGISTRARS), group: pick(GROUPS), amount }))),
  w(1, cmd(fc.record({ type: fc.constant('DeregisterGroup' as const), signer: pick(REGISTRARS), group: pick(GROUPS) }))),
  w(
    1,
    cmd(
      fc.record({
        type: fc.constant('RegisterSolution' as const),
        signer: pick(REGISTRARS),
        config: pick(GROUPS).map((g) => solutionConfig({ namespace: `s.${g}`, group: g, maxWaitingThreshold: 3 })),
      }),
    ),
  ),
  w(1, cmd(fc.record({ type: fc.constant('EndSolution' as const), signer: pick(REGISTRARS), solution: pick(GROUPS).map((g) => `s.${g}`) }))),
  w(
    1,
    cmd(fc.record({ type: fc.constant('Subscribe' as const), signer: pick(OPS), group: pick(GROUPS), stake: fc.bigInt({ min: 0n, max: 120n }).map(String) })),
  ),
  w(
    1,
    cmd(fc.record({ type: fc.constant('TopUpStake' as const), signer: pick(OPS), group: pick(GROUPS), amount: fc.bigInt({ min: 0n, max: 50n }).map(String) })),
  ),
  w(1, cmd(fc.record({ type: fc.constant('Unsubscribe' as const), signer: pick(OPS), group: pick(GROUPS) }))),
  w(
    1,
    cmd(
      fc
        .record({
          type: fc.constant('ConnectWorker' as const),
          signer: pick(OPS),
          worker: pick(WORKERS),
          consent: fc.constantFrom('worker', 'worker', 'none', 'other'),
        })
        .map(({ consent, ...c }) => ({ ...c, operator: c.signer, consentBy: consent === 'worker' ? c.worker : consent === 'other' ? OPS[0] : undefined })),
    ),
  ),
  w(1, cmd(fc.record({ type: fc.constant('DisconnectWorker' as const), signer: pick([...OPS, ...WORKERS]) }))),
  w(1, cmd(fc.record({ type: fc.constant('ClaimRewards' as const), signer: pick(OPS), groups: fc.subarray(GROUPS) }))),
  w(
    1,
    cmd(
      fc.record({
        type: fc.constant('PlaceHold' as const),
        signer: fc.constantFrom(SERVICE, ADMIN, OPS[1]!),
        holdId: pick(HOLDS),
        account: pick(ACCOUNTS),
        amount: fc.bigInt({ min: 1n, max: 60n }).map(String),
        purpose: fc.constant('distance'),
      }),
    ),
  ),
  w(1, fc.record({ kind: fc.constant('blocks' as const), n: fc.integer({ min: 1, max: 8 }), keep })),
  w(1, fc.record({ kind: fc.constant('react' as const), keep })),
  w(
    1,
    fc.record({
      kind: fc.constant('inbox' as const),
      type: fc.constant('EvaluationSettled'),
      data: fc.record({
        holdId: pick(HOLDS),
        identity: fc.constant(1),
        requester: pick(OPS),
        outcome: fc.constantFrom('VALID', 'INVALID', 'NOT_EVALUATED'),
        evaluationPeriod: fc.constant(0),
      }),
    }),
  ),
  w(
    1,
    fc.record({
      kind: fc.constant('inbox' as const),
      type: fc.constant('RewardsComputed'),
      data: fc
        .record({
          group: pick(GROUPS),
          period: fc.integer({ min: 0, max: 6 }),
          chunk: fc.integer({ min: 0, max: 1 }),
          payouts: fc.array(fc.record({ operator: pick(OPS), amount: fc.bigInt({ min: 0n, max: 80n }).map(String) }), { maxLength: 3 }),
        })
        .map((d) => ({ ...d, chunks: 2, subtotal: d.payouts.reduce((t, p) => t + BigInt(p.amount), 0n).toString() })),
    }),
  ),
);

function checkInvariants(s: RegistryState, where: string): void {
  const l = s.ledger;
  assert.equal(totalHeld(l), l.deposits - l.withdrawals, `conservation broken after ${where}`);
  const owedReserve = new Map<string, bigint>();
  const add = (a: string, v: bigint): void => {
    owedReserve.set(a, (owedReserve.get(a) ?? 0n) + v);
  };
  for (const g of s.groups.values()) {
    add(g.owner, g.budget);
    for (const [op, sub] of g.subscriptions) add(op, sub.stake);
  }
  for (const h of s.holds.values()) if (h.status === 'HELD') add(h.account, h.amount);
  for (const [a, b] of l.accounts) {
    assert.ok(b.free >= 0n && b.reserved >= 0n && b.unclaimed >= 0n, `negative balance of ${a} after ${where}`);
    assert.equal(b.reserved, owedReserve.get(a) ?? 0n, `reserved of ${a} is not exactly its budgets, stakes and holds after ${where}`);
    let u = 0n;
    for (const v of l.unclaimed.get(a)?.values() ?? []) u += v;
    assert.equal(b.unclaimed, u, `unclaimed of ${a} after ${where}`);
  }
}

test('conservation: Σ free + reserved + unclaimed = deposits − withdrawals at every log position, through random commands and dropped appends', (t) => {
  let commands = 0;
  let refused = 0;
  let events = 0;
  const seen = new Map<string, number>();
  fc.assert(
    fc.property(fc.array(op, { minLength: 50, maxLength: 250, size: 'max' }), (ops) => {
      const s = initialState();
      let pos = 0n;
      const apply = (es: readonly EventData[], k: number, where: string): void => {
        for (const e of es.slice(0, k)) {
          evolve(s, { ...e, streamId: 's', version: 0, position: encodePosition([++pos]) } as RecordedEvent);
          events++;
          seen.set(e.type, (seen.get(e.type) ?? 0) + 1);
          checkInvariants(s, `${where} → ${e.type}`);
        }
      };
      const run = (c: RegistryCommand, k: number): void => {
        commands++;
        try {
          apply(decide(c, s, POLICY), k, c.type);
        } catch (e) {
          if (!isDomainError(e)) throw e;
          refused++;
        }
      };
      apply([{ type: 'RewardPeriodScheduleChanged', data: { fromPeriod: 0, firstBlock: 1, length: 5 } }], 1, 'schedule');
      // A world where most commands can succeed: money, registrars and one group to start with.
      for (const a of ACCOUNTS) run({ type: 'Deposit', signer: ADMIN, account: a, amount: '400' }, 99);
      for (const r of REGISTRARS) run({ type: 'SignUpRegistrar', signer: r, friendlyName: 'R', legalLocation: 'DE' }, 99);
      run(
        {
          type: 'RegisterGroup',
          signer: REGISTRARS[0]!,
          budget: '300',
          allowList: [],
          config: groupConfig({ namespace: 'g.one', minStake: '10', maxStake: '80', maxOperators: 3, withdrawalDelay: 1, operationEndBlock: 10_000 }),
        },
        99,
      );
      for (const o of ops) {
        if (o.kind === 'cmd') run(o.cmd, o.keep);
        else if (o.kind === 'inbox') apply([{ type: o.type, data: o.data as never }], 1, o.type);
        else if (o.kind === 'react') for (const c of dueCommands(s)) run(c, o.keep);
        else {
          for (let i = 0; i < o.n; i++) {
            apply([{ type: 'BlockProduced', data: { height: s.height + 1 } }], 1, 'block');
            for (const c of dueCommands(s)) run(c, o.keep);
          }
        }
      }
      // Nothing was lost for good: once every reaction ran, what is still pending is only what must wait.
      for (const c of dueCommands(s)) run(c, 99);
      assert.equal(s.pendingCredits.size, 0);
    }),
    { numRuns: 150, seed: 20261121 },
  );
  t.diagnostic(`${commands} commands (${refused} refused), ${events} events: ${JSON.stringify(Object.fromEntries(seen))}`);
  assert.ok(commands > 5000, `drove ${commands} commands`);
  assert.ok(refused > 500 && refused < commands, `${refused} of ${commands} refused`);
  assert.ok(events > 10000, `${events} events`);
  // The random walk reaches every money movement, not only the easy ones.
  for (const t of [
    'Deposited',
    'Withdrawn',
    'Transferred',
    'GroupRegistered',
    'OperatorSubscribed',
    'StakeToppedUp',
    'OperatorUnsubscribed',
    'StakeReleased',
    'HoldPlaced',
    'HoldReleased',
    'HoldSlashed',
    'RewardsCredited',
    'RewardsCreditRefused',
    'RewardsClaimed',
    'GroupBudgetChanged',
    'GroupStatusChanged',
  ]) {
    assert.ok((seen.get(t) ?? 0) > 0, `no ${t} in ${JSON.stringify(Object.fromEntries(seen))}`);
  }
});
