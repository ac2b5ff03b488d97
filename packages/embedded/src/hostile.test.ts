import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { healthClient, isServing } from '@ewx/platform/testing';
import * as grpc from '@grpc/grpc-js';
import { batchOf, buildRequest, check, mutate, show, type Case, type Expectation } from './hostile/check.js';
import { getAt, type MethodInfo } from './hostile/schema.js';
import { anyArbitrary, refusedArbitrary, variantsOf, type Code } from './hostile/values.js';
import { baselines, startWorld, type Positions, type World } from './hostile/world.js';

/**
 * Hostile input, generated from the proto: every method and every field of the five services gets
 * empty, huge (10 KB), malformed and boundary values, and every signed command gets unsigned,
 * badly signed, wrong-signer, replayed and extreme-nonce variants — against the embedded system
 * over a real socket, with a small realistic state so that commands reach their validation.
 * Each refusal must have the right status, name the field, and change nothing; the server must
 * still serve afterwards.
 */

/**
 * Known gaps another branch closes; the lead enables these after merging.
 * - NONCE_ABOVE_2_53: issue 9 item (a), auth/*: a properly signed nonce above 2^53−1 is still
 *   accepted (and would use up the signer's nonces for good), so it is sent only by wrong signers.
 */
const PENDING = { NONCE_ABOVE_2_53: false };

/** Who else may try each role-restricted command, and which name field can point at nothing. */
const ROLES: Record<string, { wrong: (keyof World['keys'])[]; missing?: string[] }> = {
  'Registry/Deposit': { wrong: ['stranger', 'registrar'] },
  'Registry/Withdraw': { wrong: ['stranger', 'registrar'] },
  'Registry/PlaceHold': { wrong: ['stranger', 'operator'] },
  'Registry/DeleteRegistrar': { wrong: ['stranger', 'operator'] },
  'Registry/RegisterGroup': { wrong: ['stranger', 'operator'] },
  'Registry/RaiseGroupBudget': { wrong: ['stranger', 'registrar2'], missing: ['group'] },
  'Registry/ChangeGroupRewards': { wrong: ['stranger', 'registrar2'], missing: ['group'] },
  'Registry/UpdateAllowList': { wrong: ['stranger', 'registrar2'], missing: ['group'] },
  'Registry/DeregisterGroup': { wrong: ['stranger', 'registrar2'], missing: ['group'] },
  'Registry/RegisterSolution': { wrong: ['stranger', 'registrar2'], missing: ['config.group'] },
  'Registry/PauseSolution': { wrong: ['stranger', 'registrar2'], missing: ['solution'] },
  'Registry/ActivateSolution': { wrong: ['stranger', 'registrar2'], missing: ['solution'] },
  'Registry/EndSolution': { wrong: ['stranger', 'registrar2'], missing: ['solution'] },
  'Registry/NominateWorker': { wrong: ['stranger', 'registrar2'], missing: ['solution'] },
  'Registry/UnnominateWorker': { wrong: ['stranger', 'registrar2'], missing: ['solution'] },
  'Registry/TopUpStake': { wrong: ['stranger', 'registrar'], missing: ['group'] },
  'Registry/Unsubscribe': { wrong: ['stranger', 'registrar'], missing: ['group'] },
  'Registry/DisconnectWorker': { wrong: ['stranger', 'registrar'] },
  'Voting/StartRound': { wrong: ['stranger', 'operator', 'worker'], missing: ['solution'] },
  'Voting/SubmitVote': { wrong: ['stranger', 'operator', 'registrar'], missing: ['solution', 'round_id'] },
  'Consensus/ProduceBlocks': { wrong: ['stranger', 'registrar'] },
  'Rewards/SetRewardPeriodLength': { wrong: ['stranger', 'registrar'] },
  'Distance/PublishResult': { wrong: ['stranger', 'admin'] },
  'Distance/AddIdentity': { wrong: ['stranger', 'evaluator'] },
  'Distance/SetMembership': { wrong: ['stranger', 'evaluator'] },
  'Distance/AddCertification': { wrong: ['stranger', 'evaluator'] },
  'Distance/RemoveCertification': { wrong: ['stranger', 'evaluator'] },
  'Distance/ImportWot': { wrong: ['stranger', 'evaluator'] },
};

const short = (m: MethodInfo): string => `${m.service}/${m.name}`;
const camelPath = (path: string): string[] => path.split('.').map((p) => p.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));

describe('hostile input, every method and field, against the embedded system', () => {
  let w: World;
  let base: ReturnType<typeof baselines>;
  let quiet: Positions;
  before(async () => {
    w = await startWorld();
    base = baselines(w);
    quiet = await w.positions();
  });
  after(async () => {
    await w?.stop();
  });

  /** Runs cases in order and collects every failure, so that one run shows them all. */
  const runAll = async (cases: Iterable<{ label: string; c: Case; e: Expectation }>): Promise<{ failures: string[]; count: number }> => {
    const failures: string[] = [];
    let count = 0;
    for (const { label, c, e } of cases) {
      count++;
      const problem = await check(w, label, c, e);
      if (problem) failures.push(problem);
    }
    return { failures, count };
  };
  const baseOf = (m: MethodInfo) => {
    const b = base.get(m.path);
    if (!b) throw new Error(`no baseline for ${m.path}`);
    return b;
  };
  const signerOf = (m: MethodInfo) => {
    const b = baseOf(m);
    return b.signer ? w.keys[b.signer] : undefined;
  };

  test('every method of the contract has a baseline request', () => {
    const missing = w.methods.filter((m) => !base.has(m.path)).map(short);
    assert.deepEqual(missing, []);
    assert.equal(w.methods.length, base.size);
  });

  test('every field: empty, 10 KB, malformed, control characters, out of range, boundary', async () => {
    function* cases() {
      for (const m of w.methods) {
        const b = baseOf(m);
        const command = m.signed || batchOf(m) !== undefined;
        for (const f of m.fields) {
          for (const v of variantsOf(m, f, getAt(b.req, f.jsPath))) {
            const refuse = v.refuse && !(v.queryMay && !command) ? v.refuse : undefined;
            // An accepted command would change the state the other cases rely on: commands get refused values only.
            if (command && !refuse) continue;
            yield {
              label: `${short(m)} ${f.path} = ${v.label}`,
              c: { method: m, req: mutate(b.req, f.jsPath, v.value), ...(signerOf(m) ? { signer: signerOf(m)! } : {}) },
              e: { ...(refuse ? { refuse } : {}), names: f.name },
            };
          }
        }
        for (const msg of m.messages) {
          if (msg.repeated) continue; // a batch's items (SubmitVotes.votes …): an empty batch is fine; 10001 votes is the 1 MB helper's.
          const required = msg.name === 'config';
          if (command && !required) continue;
          yield {
            label: `${short(m)} ${msg.path} unset`,
            c: { method: m, req: mutate(b.req, msg.jsPath, undefined), ...(signerOf(m) ? { signer: signerOf(m)! } : {}) },
            e: required ? { refuse: ['INVALID_ARGUMENT'] as Code[], names: msg.name } : { names: msg.name },
          };
        }
      }
    }
    const { failures, count } = await runAll(cases());
    assert.ok(count > 500, `only ${count} cases`);
    assert.deepEqual(failures, [], `${failures.length} of ${count} cases failed:\n${failures.join('\n')}`);
  });

  test('every signed command: unsigned, bad signatures, malformed signer, wrong signer, replayed and extreme nonces', async () => {
    const U: Code[] = ['UNAUTHENTICATED'];
    function* cases() {
      for (const m of w.methods.filter((x) => x.signed || batchOf(x))) {
        const b = baseOf(m);
        const batch = batchOf(m);
        const signer = batch ? w.keys[batch.signer] : signerOf(m)!;
        const name = short(m);
        const withAuth = (f: (a: { signer: string; nonce: bigint; signature: Uint8Array }) => object) => (s: Record<string, unknown>) =>
          batch ? { [batch.field]: (s[batch.field] as { auth: never }[]).map((v) => ({ ...v, auth: f(v.auth) })) } : { ...s, auth: f(s.auth as never) };
        const c = (extra: Partial<Case>): Case => ({ method: m, req: b.req, signer, ...extra });
        yield { label: `${name} unsigned`, c: c({ tamper: withAuth(() => undefined as never) }), e: { refuse: U, names: /auth/ } };
        yield {
          label: `${name} flipped signature bit`,
          c: c({ tamper: withAuth((a) => ({ ...a, signature: Uint8Array.from(a.signature, (x, i) => (i === 5 ? x ^ 1 : x)) })) }),
          e: { refuse: U, names: 'auth.signature' },
        };
        yield {
          label: `${name} 63-byte signature`,
          c: c({ tamper: withAuth((a) => ({ ...a, signature: a.signature.slice(1) })) }),
          e: { refuse: U, names: 'auth.signature' },
        };
        yield {
          label: `${name} empty signature`,
          c: c({ tamper: withAuth((a) => ({ ...a, signature: new Uint8Array(0) })) }),
          e: { refuse: U, names: /auth/ },
        };
        yield {
          label: `${name} 10 KB signature`,
          c: c({ tamper: withAuth((a) => ({ ...a, signature: new Uint8Array(10_240).fill(1) })) }),
          e: { refuse: U, names: 'auth.signature' },
        };
        yield {
          label: `${name} upper-case signer`,
          c: c({ tamper: withAuth((a) => ({ ...a, signer: a.signer.toUpperCase() })) }),
          e: { refuse: U, names: 'auth.signer' },
        };
        yield {
          label: `${name} malformed signer`,
          c: c({ tamper: withAuth((a) => ({ ...a, signer: 'ed25519:zz' })) }),
          e: { refuse: U, names: 'auth.signer' },
        };
        yield {
          label: `${name} another account as signer`,
          c: c({ tamper: withAuth((a) => ({ ...a, signer: w.nobody })) }),
          e: { refuse: U, names: 'auth.signature' },
        };
        yield {
          label: `${name} nonce changed after signing`,
          c: c({ tamper: withAuth((a) => ({ ...a, nonce: a.nonce + 1n })) }),
          e: { refuse: U, names: 'auth.signature' },
        };
        yield { label: `${name} nonce 0`, c: c({ nonce: 0n }), e: { refuse: ['INVALID_ARGUMENT'] as Code[], names: 'auth.nonce' } };
        const last = w.accepted.get(`${m.service}:${signer.address}`);
        if (last !== undefined)
          yield { label: `${name} replayed nonce ${last}`, c: c({ nonce: last }), e: { refuse: ['PERMISSION_DENIED'] as Code[], names: /nonce/ } };
        const role = ROLES[name] ?? (batch ? ROLES[batch.item] : undefined);
        for (const k of role?.wrong ?? []) {
          yield { label: `${name} signed by ${k}`, c: c({ signer: w.keys[k] }), e: { refuse: ['PERMISSION_DENIED'] as Code[], names: 'auth.signer' } };
          for (const nonce of [2n ** 53n, 2n ** 64n - 1n]) {
            yield {
              label: `${name} signed by ${k} with nonce ${nonce}`,
              c: c({ signer: w.keys[k], nonce }),
              e: { refuse: ['PERMISSION_DENIED', 'INVALID_ARGUMENT'] as Code[], names: /auth\.(signer|nonce)/ },
            };
          }
        }
        // Authorization before existence: an account with no role learns nothing about what exists.
        for (const field of role?.missing ?? []) {
          const jsPath = batch ? [batch.field, '0', ...camelPath(field)] : camelPath(field);
          yield {
            label: `${name} signed by stranger, ${field} unknown`,
            c: c({ signer: w.keys.stranger, req: mutate(b.req, jsPath, 'no-such-name') }),
            e: { refuse: ['PERMISSION_DENIED'] as Code[], names: 'auth.signer' },
          };
        }
        if (!PENDING.NONCE_ABOVE_2_53) {
          for (const nonce of [2n ** 53n, 2n ** 64n - 1n])
            yield { label: `${name} nonce ${nonce}`, c: c({ nonce }), e: { refuse: ['INVALID_ARGUMENT'] as Code[], names: 'auth.nonce' } };
        }
      }
    }
    const { failures, count } = await runAll(cases());
    assert.ok(count > 300, `only ${count} cases`);
    assert.deepEqual(failures, [], `${failures.length} of ${count} cases failed:\n${failures.join('\n')}`);
  });

  test('random hostile values (fast-check, fixed seed): refused by commands, answered sanely by queries', async () => {
    const fields = w.methods.flatMap((m) => m.fields.map((f) => ({ m, f }))).filter(({ m }) => m.name !== 'GetStatus');
    const refusable = fields.flatMap(({ m, f }) => {
      const a = refusedArbitrary(m, f);
      return a ? [{ m, f, a }] : [];
    });
    const queries = fields.filter(({ m }) => !m.signed && !batchOf(m));
    const run = async (m: MethodInfo, path: readonly string[], name: string, value: unknown, e: Expectation): Promise<boolean> => {
      const b = baseOf(m);
      const problem = await check(
        w,
        `${short(m)} ${name} = ${show(value)}`,
        { method: m, req: mutate(b.req, path, value), ...(signerOf(m) ? { signer: signerOf(m)! } : {}) },
        e,
      );
      if (problem) throw new Error(problem);
      return true;
    };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: refusable.length - 1 }).chain((i) => fc.tuple(fc.constant(i), refusable[i]!.a)),
        async ([i, value]) => {
          const { m, f } = refusable[i]!;
          return run(m, f.jsPath, f.path, value, { refuse: ['INVALID_ARGUMENT'], names: f.name });
        },
      ),
      { seed: 20240917, numRuns: 250, includeErrorInReport: true },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: queries.length - 1 }).chain((i) => fc.tuple(fc.constant(i), anyArbitrary(queries[i]!.f))),
        async ([i, value]) => {
          const { m, f } = queries[i]!;
          return run(m, f.jsPath, f.path, value, { names: f.name });
        },
      ),
      { seed: 20240918, numRuns: 200, includeErrorInReport: true },
    );
  });

  test('afterwards: nothing changed, every service serves, and a valid command is accepted', async () => {
    // Every refusal was checked against its own service's log as it answered; this also covers what
    // a refused command could have set off in the other services since.
    assert.deepEqual(await w.positions(), quiet, 'log positions after all hostile cases');
    for (const s of ['Registry', 'Voting', 'Consensus', 'Rewards', 'Distance']) {
      const o = await w.call(w.method(`${s}/GetStatus`), {});
      assert.equal(o.code, 0, `${s}.GetStatus: ${o.details}`);
      const health = healthClient(w.address);
      const serving = await new Promise<string | number>((res, rej) => health.check({ service: `ewx.v1.${s}` }, (e, r) => (e ? rej(e) : res(r.status))));
      health.close();
      assert.ok(isServing(serving), `${s} health`);
    }
    const deposit = w.method('Registry/Deposit');
    const o = await w.signed(deposit, w.keys.admin, { account: w.nobody, amount: '5' });
    assert.equal(o.code, 0, o.details);
    const account = await w.call(w.method('Registry/GetAccount'), { address: w.nobody });
    assert.equal((account.response as { free: string }).free, '5');
  });

  test('every baseline is accepted, in a fitting order: each refusal above came from its hostile value', async () => {
    // Baselines the state cannot accept: a claim needs rewards, a proof a settled round.
    const refusedAnyway: Record<string, string> = { 'Registry/ClaimRewards': 'FAILED_PRECONDITION', 'Consensus/GetVoteProof': 'NOT_FOUND' };
    const queries = w.methods.filter((m) => !m.signed && !batchOf(m)).map(short);
    const commands = [
      'Registry/Deposit',
      'Registry/Withdraw',
      'Registry/Transfer',
      'Registry/PlaceHold',
      'Registry/DeleteRegistrar',
      'Registry/RegisterGroup',
      'Registry/RaiseGroupBudget',
      'Registry/ChangeGroupRewards',
      'Registry/UpdateAllowList',
      'Registry/DepositBatch',
      'Registry/DeregisterGroup',
      'Registry/RegisterSolution',
      'Registry/ActivateSolution',
      'Registry/NominateWorker',
      'Registry/UnnominateWorker',
      'Registry/NominateWorkers',
      'Registry/UnnominateWorkers',
      'Voting/StartRound',
      'Voting/SubmitVote',
      'Voting/SubmitVotes',
      'Registry/PauseSolution',
      'Registry/EndSolution',
      'Registry/Subscribe',
      'Registry/TopUpStake',
      'Registry/Unsubscribe',
      'Registry/DisconnectWorker',
      'Registry/ConnectWorker',
      'Registry/ClaimRewards',
      'Rewards/SetRewardPeriodLength',
      'Distance/ImportWot',
      'Distance/AddIdentity',
      'Distance/SetMembership',
      'Distance/AddCertification',
      'Distance/RemoveCertification',
      'Distance/RequestEvaluation',
      'Distance/PublishResult',
      'Registry/SignUpRegistrar',
      'Consensus/ProduceBlocks',
    ];
    assert.deepEqual([...queries, ...commands].sort(), w.methods.map(short).sort(), 'every method once');
    const answers: string[] = [];
    for (const name of [...queries, ...commands]) {
      const m = w.method(name);
      const b = baseOf(m);
      const o = await w.call(m, buildRequest(w, { method: m, req: b.req, ...(b.signer ? { signer: w.keys[b.signer] } : {}) }));
      const code = batchOf(m) && o.code === 0 ? (o.response as { results: { code: number }[] }).results[0]!.code : o.code;
      const expected = refusedAnyway[name] ?? 'OK';
      if (grpc.status[code] !== expected) answers.push(`${name}: ${grpc.status[code]} ${o.details}, expected ${expected}`);
    }
    assert.deepEqual(answers, []);
  });
});
