import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  GroupStatus,
  groupStatusOf,
  HoldStatus,
  holdStatusOf,
  RoundState,
  SolutionStatus,
  solutionStatusOf,
  statusName,
  TallyOutcome,
  tallyOutcomeOf,
  tallyReasonOf,
  UnresolvedReason,
  unresolvedReasonOf,
  settlementStateOf,
} from './statuses.js';

test('statusName: the short name of every value of every status enum; empty for UNSPECIFIED; the number for an unknown value', () => {
  const all: [Record<string, string | number>, string][] = [
    [RoundState, 'ROUND_STATE_'],
    [UnresolvedReason, 'UNRESOLVED_REASON_'],
    [TallyOutcome, 'TALLY_OUTCOME_'],
    [GroupStatus, 'GROUP_STATUS_'],
    [SolutionStatus, 'SOLUTION_STATUS_'],
    [HoldStatus, 'HOLD_STATUS_'],
  ];
  for (const [e, prefix] of all) {
    for (const [name, value] of Object.entries(e)) {
      if (typeof value !== 'number' || value < 0) continue; // ts-proto's UNRECOGNIZED is -1
      assert.equal(statusName(e, value), value === 0 ? '' : name.slice(prefix.length), `${name}`);
    }
  }
  assert.equal(statusName(HoldStatus, HoldStatus.HOLD_STATUS_SLASHED), 'SLASHED');
  assert.equal(statusName(RoundState, RoundState.ROUND_STATE_OFF_CHAIN_VOTE), 'OFF_CHAIN_VOTE');
  assert.equal(statusName(GroupStatus, 42), '42');
});

test('the …Of readers take the enum, and fall back to the deprecated string only when the enum is UNSPECIFIED (a server before the enum)', () => {
  assert.equal(groupStatusOf({ groupStatus: GroupStatus.GROUP_STATUS_RETIRING, status: 'ACTIVE' }), GroupStatus.GROUP_STATUS_RETIRING);
  assert.equal(groupStatusOf({ groupStatus: GroupStatus.GROUP_STATUS_UNSPECIFIED, status: 'REMOVED' }), GroupStatus.GROUP_STATUS_REMOVED);
  assert.equal(solutionStatusOf({ solutionStatus: SolutionStatus.SOLUTION_STATUS_UNSPECIFIED, status: 'EXPIRED' }), SolutionStatus.SOLUTION_STATUS_EXPIRED);
  assert.equal(holdStatusOf({ holdStatus: HoldStatus.HOLD_STATUS_UNSPECIFIED, status: 'RELEASED' }), HoldStatus.HOLD_STATUS_RELEASED);
  assert.equal(holdStatusOf({ holdStatus: HoldStatus.HOLD_STATUS_UNSPECIFIED, status: 'SOMETHING_NEW' }), HoldStatus.HOLD_STATUS_UNSPECIFIED);
  assert.equal(unresolvedReasonOf({ reason: UnresolvedReason.UNRESOLVED_REASON_UNSPECIFIED, unresolvedReason: 'TIE' }), UnresolvedReason.UNRESOLVED_REASON_TIE);
  assert.equal(
    unresolvedReasonOf({ reason: UnresolvedReason.UNRESOLVED_REASON_UNSPECIFIED, unresolvedReason: '' }),
    UnresolvedReason.UNRESOLVED_REASON_UNSPECIFIED,
  );
  assert.equal(tallyOutcomeOf({ tallyOutcome: TallyOutcome.TALLY_OUTCOME_UNSPECIFIED, outcome: 'UNRESOLVED' }), TallyOutcome.TALLY_OUTCOME_UNRESOLVED);
  assert.equal(tallyReasonOf({ unresolvedReason: UnresolvedReason.UNRESOLVED_REASON_NO_QUORUM, reason: '' }), UnresolvedReason.UNRESOLVED_REASON_NO_QUORUM);
  assert.equal(settlementStateOf({ roundState: RoundState.ROUND_STATE_SETTLED, state: 'CLOSED' }), RoundState.ROUND_STATE_SETTLED);
  assert.equal(settlementStateOf({ roundState: RoundState.ROUND_STATE_UNSPECIFIED, state: 'OPEN' }), RoundState.ROUND_STATE_ACTIVE);
  assert.equal(settlementStateOf({ roundState: RoundState.ROUND_STATE_UNSPECIFIED, state: 'CLOSED' }), RoundState.ROUND_STATE_OFF_CHAIN_VOTE);
  assert.equal(settlementStateOf({ roundState: RoundState.ROUND_STATE_UNSPECIFIED, state: 'UNRESOLVED' }), RoundState.ROUND_STATE_UNRESOLVED);
});
