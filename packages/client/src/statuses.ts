import { TallyOutcome, type Settlement, type Tally } from '@ewx/proto/consensus';
import { GroupStatus, HoldStatus, SolutionStatus, type Group, type Hold, type Solution } from '@ewx/proto/registry';
import { RoundState, UnresolvedReason, type Round } from '@ewx/proto/voting';

/**
 * One vocabulary for every status on the wire: each is a protobuf enum (RoundState, UnresolvedReason,
 * TallyOutcome, GroupStatus, SolutionStatus, HoldStatus). The string fields they replace are
 * deprecated but still filled; the `…Of` functions below read the enum and fall back to the string
 * only for a server older than the enum (enum field UNSPECIFIED, string set). `statusName` gives
 * the short name for people (`ROUND_STATE_SETTLED` → `SETTLED`).
 */
export { GroupStatus, HoldStatus, RoundState, SolutionStatus, TallyOutcome, UnresolvedReason };

type EnumObject = Record<string, string | number>;

/** The enum value of `prefix + name`, or UNSPECIFIED (0) for an empty or unknown name. */
function fromName<E extends number>(e: EnumObject, prefix: string, name: string): E {
  const v = name === '' ? undefined : e[prefix + name];
  return (typeof v === 'number' ? v : 0) as E;
}

/** The enum value unless UNSPECIFIED; else the value named by the deprecated string (older servers). */
const either = <E extends number>(e: EnumObject, prefix: string, value: E, legacy: string | undefined): E =>
  value !== 0 ? value : fromName<E>(e, prefix, legacy ?? '');

const PREFIXES: ReadonlyArray<readonly [EnumObject, string]> = [
  [RoundState, 'ROUND_STATE_'],
  [UnresolvedReason, 'UNRESOLVED_REASON_'],
  [TallyOutcome, 'TALLY_OUTCOME_'],
  [GroupStatus, 'GROUP_STATUS_'],
  [SolutionStatus, 'SOLUTION_STATUS_'],
  [HoldStatus, 'HOLD_STATUS_'],
];

/**
 * The short name of a status enum value, as the SPEC and the deprecated strings spell it:
 * `statusName(RoundState, RoundState.ROUND_STATE_OFF_CHAIN_VOTE)` → `OFF_CHAIN_VOTE`; `''` for
 * UNSPECIFIED (no status: e.g. the reason of a settled round); the number for a value this client
 * does not know (a newer server).
 */
export function statusName(e: EnumObject, value: number): string {
  if (value === 0) return '';
  const full = e[value];
  if (typeof full !== 'string') return String(value);
  const prefix = PREFIXES.find(([x]) => x === e)?.[1] ?? '';
  return full.startsWith(prefix) ? full.slice(prefix.length) : full;
}

/** Why a voting round is unresolved (UNSPECIFIED unless it is). */
export const unresolvedReasonOf = (r: Pick<Round, 'reason'> & { unresolvedReason?: string }): UnresolvedReason =>
  either(UnresolvedReason, 'UNRESOLVED_REASON_', r.reason, r.unresolvedReason);
/** What a consensus tally decided. */
export const tallyOutcomeOf = (t: Pick<Tally, 'tallyOutcome'> & { outcome?: string }): TallyOutcome =>
  either(TallyOutcome, 'TALLY_OUTCOME_', t.tallyOutcome, t.outcome);
/** Why a consensus tally is unresolved (UNSPECIFIED when settled). */
export const tallyReasonOf = (t: Pick<Tally, 'unresolvedReason'> & { reason?: string }): UnresolvedReason =>
  either(UnresolvedReason, 'UNRESOLVED_REASON_', t.unresolvedReason, t.reason);
export const groupStatusOf = (g: Pick<Group, 'groupStatus'> & { status?: string }): GroupStatus =>
  either(GroupStatus, 'GROUP_STATUS_', g.groupStatus, g.status);
/** ACTIVE, PAUSED, ENDED or EXPIRED (past its expiration block and not ended). */
export const solutionStatusOf = (s: Pick<Solution, 'solutionStatus'> & { status?: string }): SolutionStatus =>
  either(SolutionStatus, 'SOLUTION_STATUS_', s.solutionStatus, s.status);
export const holdStatusOf = (h: Pick<Hold, 'holdStatus'> & { status?: string }): HoldStatus => either(HoldStatus, 'HOLD_STATUS_', h.holdStatus, h.status);
/** Consensus's settlement state in voting's round names; an older server's OPEN / CLOSED read as ACTIVE / OFF_CHAIN_VOTE. */
export const settlementStateOf = (s: Pick<Settlement, 'roundState'> & { state?: string }): RoundState =>
  either(RoundState, 'ROUND_STATE_', s.roundState, s.state === 'OPEN' ? 'ACTIVE' : s.state === 'CLOSED' ? 'OFF_CHAIN_VOTE' : s.state);
