/**
 * Checks an operator's audit bundle offline, with nothing but the file and the validator set.
 * Written from docs/AUDIT.md and SPEC §5–§6 alone: this file imports no service code (only
 * node:crypto and the client kit's signature check, for ed25519 and sr25519 validator keys), so it
 * is what an outside verifier would write.
 */
import { createHash } from 'node:crypto';
import { verifyBytes } from '@ewx/client';

export const BUNDLE_FORMAT = 'ewx-audit-bundle/1';

export interface BundleTally {
  eligible: number;
  submitted: number;
  top: number;
  outcome: string;
  result?: string;
  reason?: string;
}
export interface BundleRound {
  solution: string;
  roundId: string;
  /** The operator's worker in the round's snapshot. */
  worker: string;
  /** The worker's vote (hex), or null when it did not vote. */
  vote: string | null;
  /** Inclusion proof of the vote: steps from the leaf up (docs/AUDIT.md). */
  proof?: { position: number; group: string[] }[];
  merkleRoot: string;
  tally: BundleTally;
  attestations: { validator: string; tally: BundleTally; merkleRoot: string; signature: string }[];
  /** The set in force when the round was decided, as the log records it. */
  validators: string[];
  chain: { index: number; prevHash: string; hash: string };
}
export interface BundleOperatorInput {
  operator: string;
  stake: string;
  eligible: number;
  correct: number;
  inFinalPeriod: boolean;
}
export interface Bundle {
  format: string;
  operator: string;
  group: string;
  period: number;
  source: string;
  rounds: BundleRound[];
  counts: { eligible: number; correct: number };
  sla: { threshold: number; met: boolean };
  reward: {
    inputs: {
      firstBlock: number;
      lastBlock: number;
      budget: string;
      config: {
        subscriptionRewardPerBlock: string;
        votingRewardPerBlock: string;
        slaVotingThreshold: number;
        operationStartBlock: number;
        operationEndBlock: number;
      };
      operators: BundleOperatorInput[];
    };
    outcome: {
      activeBlocks: number;
      basePool: string;
      activePool: string;
      totalStake: string;
      weightSum: string;
      qualifying: number;
      due: string;
      paid: string;
      budgetExhausted: boolean;
    };
    payout: { base: string; active: string; amount: string };
  };
}

export interface BundleVerdict {
  readonly ok: boolean;
  readonly problems: string[];
  /** What was recomputed, for the report. */
  readonly checked: { rounds: number; votesProven: number; attestations: number; eligible: number; correct: number; base: bigint; active: bigint };
}

const sha = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
const tallyText = (t: BundleTally): string => `${t.outcome}|${t.result ?? ''}|${t.reason ?? ''}|E=${t.eligible}|S=${t.submitted}|top=${t.top}`;

function signatureValid(address: string, message: Buffer, signatureHex: string): boolean {
  return /^([0-9a-f]{2}){64}$/.test(signatureHex) && verifyBytes(address, message, Buffer.from(signatureHex, 'hex'));
}

/** SPEC §6: base by stake, active by correct × stake among those meeting the SLA, shares rounded down, scaled to the budget. */
function rewardOf(b: Bundle['reward']['inputs'], operator: string) {
  const c = b.config;
  const from = Math.max(b.firstBlock, c.operationStartBlock);
  const to = c.operationEndBlock === 0 ? b.lastBlock : Math.min(b.lastBlock, c.operationEndBlock);
  const activeBlocks = to >= from ? to - from + 1 : 0;
  const basePool = BigInt(c.subscriptionRewardPerBlock) * BigInt(activeBlocks);
  const activePool = BigInt(c.votingRewardPerBlock) * BigInt(activeBlocks);
  const stake = (o: BundleOperatorInput): bigint => (!o.inFinalPeriod && BigInt(o.stake) > 0n ? BigInt(o.stake) : 0n);
  const meets = (o: BundleOperatorInput): boolean =>
    stake(o) > 0n && o.eligible > 0 && BigInt(o.correct) * 100n >= BigInt(c.slaVotingThreshold) * BigInt(o.eligible);
  const weight = (o: BundleOperatorInput): bigint => (meets(o) ? BigInt(o.correct) * stake(o) : 0n);
  const totalStake = b.operators.reduce((a, o) => a + stake(o), 0n);
  const weightSum = b.operators.reduce((a, o) => a + weight(o), 0n);
  const share = (o: BundleOperatorInput) => ({
    base: totalStake > 0n ? (stake(o) * basePool) / totalStake : 0n,
    active: weightSum > 0n ? (weight(o) * activePool) / weightSum : 0n,
  });
  const due = b.operators.reduce((a, o) => {
    const s = share(o);
    return a + s.base + s.active;
  }, 0n);
  const budget = BigInt(b.budget);
  const scale = (x: bigint): bigint => (due > budget ? (x * budget) / due : x);
  const me = b.operators.find((o) => o.operator === operator);
  const mine = me ? share(me) : { base: 0n, active: 0n };
  const paid = b.operators.reduce((a, o) => {
    const s = share(o);
    return a + scale(s.base) + scale(s.active);
  }, 0n);
  return {
    activeBlocks,
    basePool,
    activePool,
    totalStake,
    weightSum,
    qualifying: b.operators.filter(meets).length,
    due,
    paid,
    budgetExhausted: due > budget,
    base: scale(mine.base),
    active: scale(mine.active),
  };
}

/**
 * Verifies `bundle` against `validators` (the set the verifier trusts): every vote's inclusion
 * proof against its round's Merkle root, the round's outcome attested by more than two thirds of
 * that set (signatures over the attestation bytes), the result chain entry's hash, the eligible
 * and correct counts, the SLA test and the reward from every input of the formula.
 */
export function verifyBundle(bundle: Bundle, validators: readonly string[]): BundleVerdict {
  const problems: string[] = [];
  const fail = (m: string): void => {
    problems.push(m);
  };
  if (bundle.format !== BUNDLE_FORMAT) fail(`format: expected ${BUNDLE_FORMAT}, got ${JSON.stringify(bundle.format)}`);
  if (validators.length === 0) fail('validators: the verifier needs the validator set it trusts');
  const trusted = new Set(validators);
  let votesProven = 0;
  let attestations = 0;
  let correct = 0;
  const seen = new Set<string>();
  for (const r of bundle.rounds ?? []) {
    const where = `round ${r.roundId} of ${r.solution}`;
    if (seen.has(`${r.solution}\u0000${r.roundId}`)) fail(`${where}: listed twice`);
    seen.add(`${r.solution}\u0000${r.roundId}`);
    const text = tallyText(r.tally);
    if (r.tally.outcome !== 'SETTLED' || !r.tally.result) fail(`${where}: not settled (${text}): unresolved rounds count for nobody`);
    // Attestations: more than two thirds of the trusted set, same tally and root, valid signatures.
    const agreeing = new Set<string>();
    for (const a of r.attestations ?? []) {
      const bytes = Buffer.from(`ewx/v1/attestation\n${r.solution}\n${r.roundId}\n${tallyText(a.tally)}\n${a.merkleRoot}`, 'utf8');
      if (!signatureValid(a.validator, bytes, a.signature)) {
        fail(`${where}: the attestation signature of ${a.validator} does not verify`);
        continue;
      }
      attestations++;
      if (trusted.has(a.validator) && tallyText(a.tally) === text && a.merkleRoot === r.merkleRoot) agreeing.add(a.validator);
    }
    if (!(agreeing.size * 3 > trusted.size * 2))
      fail(`${where}: ${agreeing.size} of ${trusted.size} trusted validators attest ${text} with root ${r.merkleRoot}; more than two thirds are needed`);
    // The chain entry binds the result and tally.
    const chain = sha(Buffer.from(`ewx/v1/result-chain\n${r.chain?.prevHash}\n${r.roundId}\n${r.tally.result ?? ''}\n${text}`, 'utf8')).toString('hex');
    if (chain !== r.chain?.hash) fail(`${where}: the result chain entry ${r.chain?.index} does not hash to ${r.chain?.hash}`);
    // The vote: its leaf proven against the attested root.
    if (r.vote !== null) {
      if (!/^([0-9a-f]{2}){1,64}$/.test(r.vote)) {
        fail(`${where}: the vote is not 1 to 64 bytes of hex`);
        continue;
      }
      let h = sha(Buffer.from([0]), Buffer.from(r.worker, 'utf8'), Buffer.from([0x0a]), Buffer.from(r.vote, 'hex')).toString('hex');
      let ok = true;
      for (const s of r.proof ?? []) {
        if (!Array.isArray(s.group) || s.group.length > 16 || s.group[s.position] !== h) {
          ok = false;
          break;
        }
        h = sha(Buffer.from([1]), ...s.group.map((g) => Buffer.from(g, 'hex'))).toString('hex');
      }
      if (!ok || h !== r.merkleRoot) fail(`${where}: the vote ${r.vote} of ${r.worker} is not proven against the root ${r.merkleRoot}`);
      else votesProven++;
      if (r.vote === r.tally.result) correct++;
    }
  }
  const eligible = bundle.rounds?.length ?? 0;
  if (bundle.counts?.eligible !== eligible || bundle.counts?.correct !== correct) {
    fail(`counts: the rounds give ${correct} correct of ${eligible} eligible, the bundle says ${bundle.counts?.correct} of ${bundle.counts?.eligible}`);
  }
  const inputs = bundle.reward?.inputs;
  const row = inputs?.operators?.find((o) => o.operator === bundle.operator);
  if (!row) fail(`reward: the operator ${bundle.operator} has no row in the reward inputs`);
  else if (row.eligible !== eligible || row.correct !== correct)
    fail(`reward: the inputs count ${row.correct} correct of ${row.eligible}, the proven rounds ${correct} of ${eligible}`);
  const threshold = inputs?.config?.slaVotingThreshold;
  const met = eligible > 0 && correct * 100 >= (threshold ?? 101) * eligible;
  if (bundle.sla?.threshold !== threshold || bundle.sla?.met !== met)
    fail(
      `sla: ${correct} of ${eligible} against ${threshold} % is ${met ? 'met' : 'not met'}, the bundle says ${bundle.sla?.met ? 'met' : 'not met'} against ${bundle.sla?.threshold}`,
    );
  let base = 0n;
  let active = 0n;
  if (inputs) {
    const x = rewardOf(inputs, bundle.operator);
    base = x.base;
    active = x.active;
    const o = bundle.reward.outcome;
    const want = {
      activeBlocks: x.activeBlocks,
      basePool: x.basePool.toString(),
      activePool: x.activePool.toString(),
      totalStake: x.totalStake.toString(),
      weightSum: x.weightSum.toString(),
      qualifying: x.qualifying,
      due: x.due.toString(),
      paid: x.paid.toString(),
      budgetExhausted: x.budgetExhausted,
    };
    for (const [k, v] of Object.entries(want))
      if ((o as unknown as Record<string, unknown>)[k] !== v)
        fail(`reward: ${k} is ${v} from the inputs, the bundle says ${(o as unknown as Record<string, unknown>)[k]}`);
    const p = bundle.reward.payout;
    if (p.base !== base.toString() || p.active !== active.toString() || p.amount !== (base + active).toString()) {
      fail(`reward: the formula gives base ${base} + active ${active} = ${base + active}, the bundle says ${p.base} + ${p.active} = ${p.amount}`);
    }
  }
  return { ok: problems.length === 0, problems, checked: { rounds: eligible, votesProven, attestations, eligible, correct, base, active } };
}
