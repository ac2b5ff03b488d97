import { decodeConsensusLog } from '@ewx/contracts';
import { consensusDecider } from '@ewx/consensus';
import { decide, evaluateRound, roundKey, tallyText, type ConsensusState } from '@ewx/consensus/domain/decider';
import { fact, metaOf, type ServiceAudit } from '../runner.js';

export interface DecidedRoundFact {
  position: bigint;
  type: string;
}

/**
 * Consensus: blocks one height at a time (a run of blocks starts at the next height); every attestation re-decided with the validators' rule
 * (signature over the attestation bytes, membership of the set in force, one per validator,
 * supermajority), which recomputes each settlement, its result chain entry and its vote
 * metadata; and every decided outcome recomputed from the recorded snapshot and votes (tally and
 * Merkle root), whatever the validators signed.
 */
export function consensusAudit(): ServiceAudit<ConsensusState> {
  const sets: string[] = [];
  return {
    service: 'consensus',
    decider: consensusDecider,
    own(e, s, ctx) {
      const ev = decodeConsensusLog(e);
      switch (ev?.type) {
        case 'BlockProduced': {
          ctx.count('block');
          const h = ev.data.height;
          if (h !== s.height + 1) ctx.diverge('block', `block ${h} follows block ${s.height}`, { expected: s.height + 1, recorded: h });
          return;
        }
        case 'BlocksProduced': {
          ctx.count('block');
          const { from, to } = ev.data;
          if (from !== s.height + 1) ctx.diverge('block', `blocks ${from}..${to} follow block ${s.height}`, { expected: s.height + 1, recorded: from });
          if (to < from) ctx.diverge('block', `blocks ${from}..${to}: an empty run`, { expected: `to ≥ ${from}`, recorded: to });
          return;
        }
        case 'ValidatorSetConfigured': {
          ctx.count('validator-set');
          const v = ev.data.validators;
          const w = ev.data.attestationWindow;
          ctx.expect('validator-set', decide({ type: 'ConfigureValidators', validators: v, ...(w === undefined ? {} : { attestationWindow: w }) }, s));
          sets.push(`${v.length} from position ${e.position}${w === undefined ? '' : ` (attestation window ${w} blocks)`}`);
          return;
        }
        case 'AttestationRecorded': {
          const d = ev.data;
          ctx.count('attestation');
          if (metaOf(e).signer !== undefined) ctx.diverge('attestation', 'an attestation carries a command signer; validators sign the attestation itself');
          const events = decide(
            {
              type: 'Attest',
              validator: d.validator,
              solution: d.solution,
              roundId: d.roundId,
              tally: d.tally,
              merkleRoot: d.merkleRoot,
              signature: d.signature,
            },
            s,
          );
          ctx.expect('attestation', events);
          return;
        }
        default:
          // Settlements, chain entries and vote metadata come only in the append of the attestation that decides them.
          ctx.diverge('rules', `${e.type} without the attestation that decides it`);
      }
    },
    after(e, s, ctx) {
      if (e.streamId.startsWith('inbox:')) return;
      const ev = decodeConsensusLog(e);
      if (ev?.type === 'RoundSettled' || ev?.type === 'RoundUnresolved') {
        const d = ev.data;
        const r = s.rounds.get(roundKey(d.solution, d.roundId))!;
        ctx.count('outcome');
        const honest = evaluateRound(r);
        if (tallyText(honest.tally) !== tallyText(d.tally) || honest.merkleRoot !== d.merkleRoot) {
          ctx.diverge('outcome', `round ${d.roundId} of ${d.solution}: the validators' outcome is not what the recorded snapshot and votes give`, {
            expected: `${tallyText(honest.tally)} root ${honest.merkleRoot}`,
            recorded: `${tallyText(d.tally)} root ${d.merkleRoot}`,
          });
        }
        const key = roundKey(d.solution, d.roundId);
        const decided = fact(ctx.cross, 'consensus.decided', () => new Map<string, DecidedRoundFact[]>());
        decided.set(key, [...(decided.get(key) ?? []), { position: e.position, type: e.type }]);
        if (d.dissenters.length > 0) ctx.note('dissent', `round ${d.roundId} of ${d.solution}: dissenting validators ${d.dissenters.join(', ')}`);
      }
      if (ev?.type === 'AttestationRecorded' && ev.data.dissent) {
        const d = ev.data;
        ctx.note('dissent', `round ${d.roundId} of ${d.solution}: ${d.validator} attested an outcome other than the settled one`);
      }
      if (ev?.type === 'VoteMetadata') {
        const d = ev.data;
        fact(ctx.cross, 'consensus.metadata', () => new Map<string, bigint>()).set(`${d.solution}|${d.roundId}|${d.chunk}`, e.position);
      }
    },
    finish(s, ctx) {
      ctx.note('configuration', `validator sets recorded: ${sets.join('; ') || 'none'}; the last: ${s.validators.join(', ') || '(none)'}`);
    },
  };
}
