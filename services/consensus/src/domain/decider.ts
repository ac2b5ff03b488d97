import { consensusEvent } from '@ewx/contracts';
import { denied, invalid, isAddress, precondition, quote, type EventData, type RecordedEvent, type ServiceDecider } from '@ewx/platform/domain';
import { evolve } from './evolve.js';
import { decideAttestation, type AttestCommand } from './settle.js';
import { CHAIN_STREAM, initialConsensusState, solutionStream, VALIDATORS_STREAM, votingRoundInbox, type ConsensusState } from './state.js';

export * from './state.js';
export * from './tally.js';
export * from './merkle.js';
export * from './chain.js';
export * from './settle.js';
export { decidedFromEvents, evolve, evolveKeepingRounds, evolveKeepingVotes, foldVoteMetadata, roundFromEvents, type VoteCounts } from './evolve.js';

export type ConsensusCommand =
  /** An admin asks for `count` blocks at once; only with a manual block time. */
  | { readonly type: 'ProduceBlocks'; readonly signer: string; readonly admin: string; readonly manual: boolean; readonly count: number }
  /**
   * The block timer: record the blocks after `after` up to `to` (default `after` + 1: one block) as
   * one run, unless someone already recorded a block after `after`.
   */
  | { readonly type: 'ProduceNextBlock'; readonly after: number; readonly to?: number }
  /**
   * The configured validator set, recorded so that settlement reads it from the log, with the
   * attestation window in blocks (absent: decided rounds wait for every attestation, as before it).
   */
  | { readonly type: 'ConfigureValidators'; readonly validators: readonly string[]; readonly attestationWindow?: number }
  | ({ readonly type: 'Attest' } & AttestCommand);

/**
 * ATTESTATION_WINDOW_BLOCKS's default: a decided round takes its missing attestations for this many
 * blocks after it ended or was decided (whichever is later), a day at EWX's 12 s blocks.
 */
export const DEFAULT_ATTESTATION_WINDOW = 7200;
/** The longest attestation window (blocks): 100 days at 12 s. */
export const MAX_ATTESTATION_WINDOW = 720_000;

/** A run of blocks is one event, whatever its length: a call may ask for up to a million blocks. */
export const MAX_BLOCKS_PER_CALL = 1_000_000;

type ProduceBlocks = Extract<ConsensusCommand, { type: 'ProduceBlocks' }>;

/** The rules of a ProduceBlocks request as a whole, checked before its first chunk. */
export function checkProduceBlocks(c: ProduceBlocks): void {
  if (c.signer !== c.admin) throw denied('auth.signer: only the admin account may produce blocks');
  if (!c.manual) throw precondition('ProduceBlocks: the block time is automatic (set BLOCK_TIME_MS=manual to produce blocks by hand)');
  if (!Number.isInteger(c.count) || c.count < 1 || c.count > MAX_BLOCKS_PER_CALL) {
    throw invalid('count', `expected 1 to ${MAX_BLOCKS_PER_CALL} blocks, got ${c.count}`);
  }
}

const block = (height: number): EventData => consensusEvent({ type: 'BlockProduced', data: { height } });
/** One block is `BlockProduced`; more are one `BlocksProduced` run (what the other services record once). */
const blocks = (from: number, to: number): EventData => (from === to ? block(from) : consensusEvent({ type: 'BlocksProduced', data: { from, to } }));

export function decide(c: ConsensusCommand, s: ConsensusState): EventData[] {
  switch (c.type) {
    case 'ProduceBlocks':
      checkProduceBlocks(c);
      return [blocks(s.height + 1, s.height + c.count)];
    case 'ProduceNextBlock': {
      const to = c.to ?? c.after + 1;
      if (!Number.isInteger(to) || to <= c.after || to - c.after > MAX_BLOCKS_PER_CALL)
        throw invalid('to', `expected a height from ${c.after + 1} to ${c.after + MAX_BLOCKS_PER_CALL}, got ${to}`);
      // Two producers racing for the same height: the loser's retry sees the blocks and adds none.
      return s.height === c.after ? [blocks(c.after + 1, to)] : [];
    }
    case 'ConfigureValidators': {
      if (c.validators.length === 0) throw invalid('VALIDATORS', 'at least one validator address');
      for (const v of c.validators) if (!isAddress(v)) throw invalid('VALIDATORS', `expected ed25519:<64 hex>, got ${quote(v, 80)}`);
      if (new Set(c.validators).size !== c.validators.length) throw invalid('VALIDATORS', 'addresses must be distinct');
      const w = c.attestationWindow;
      if (w !== undefined && (!Number.isInteger(w) || w < 1 || w > MAX_ATTESTATION_WINDOW))
        throw invalid('ATTESTATION_WINDOW_BLOCKS', `expected 1 to ${MAX_ATTESTATION_WINDOW} blocks, got ${w}`);
      const same = c.validators.length === s.validators.length && c.validators.every((v, i) => s.validators[i] === v) && w === s.attestationWindow;
      if (same) return [];
      return [
        consensusEvent({
          type: 'ValidatorSetConfigured',
          data: w === undefined ? { validators: [...c.validators] } : { validators: [...c.validators], attestationWindow: w },
        }),
      ];
    }
    case 'Attest':
      return decideAttestation(s, c);
    default: {
      const never: never = c;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

/** Blocks go to the chain stream, the validator set to its own, attestations to their solution's stream. */
export function streamOf(c: ConsensusCommand): string {
  switch (c.type) {
    case 'ProduceBlocks':
    case 'ProduceNextBlock':
      return CHAIN_STREAM;
    case 'ConfigureValidators':
      return VALIDATORS_STREAM;
    case 'Attest':
      return solutionStream(c.solution);
    default: {
      const never: never = c;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

/**
 * A decided round's copies of voting's round stream (`votingRoundInbox`): no decision reads their
 * inbox marks again (voting writes nothing to a round's stream after its close, and a decision
 * needs the close), so the runtime forgets them (Decider.finishedInboxStreams). Proofs still read
 * the stream's events from the log.
 */
export function finishedInboxStreams(_s: ConsensusState, e: RecordedEvent): readonly string[] | undefined {
  if (e.type !== 'RoundSettled' && e.type !== 'RoundUnresolved') return undefined;
  const d = e.data as { solution?: unknown; roundId?: unknown } | null;
  return typeof d?.solution === 'string' && typeof d.roundId === 'string' ? [votingRoundInbox(d.solution, d.roundId)] : undefined;
}

export const consensusDecider: ServiceDecider<ConsensusState, ConsensusCommand> = {
  initialState: initialConsensusState,
  evolve,
  decide,
  streamOf,
  finishedInboxStreams,
};
