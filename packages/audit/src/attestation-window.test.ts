import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { consensusDecider } from '@ewx/consensus';
import {
  attestationBytes,
  CHAIN_STREAM,
  decide,
  evaluateRound,
  roundKey,
  solutionStream,
  VALIDATORS_STREAM,
  type ConsensusCommand,
} from '@ewx/consensus/domain/decider';
import { createRuntime, generateKeyPair, postgresEventStore, signBytes, silentLogger, sqlProjectionsOf, START, type EventStore } from '@ewx/platform';
import { realInfra, uniqueNamespace } from '@ewx/platform/testing';
import { audit, formatReport, memorySource, type LogEvent } from './index.js';

const { infra, skip } = await realInfra();

/**
 * The attestation window (docs/DEVELOPING.md, "Consensus: the attestation window") as the audit
 * re-decides it: a round settled by three of four that left the state at its close audits clean;
 * an attestation recorded after the close (what a consensus process older than the window would
 * accept) is a divergence.
 */
describe('audit: the attestation window (PostgreSQL)', { skip }, () => {
  let store: EventStore | undefined;
  after(async () => {
    if (store) await sqlProjectionsOf(store)!.projectionQuery(`DROP SCHEMA ${sqlProjectionsOf(store)!.projectionSchema} CASCADE`);
    await store?.close();
  });

  test('a round that left at its close without the fourth audits clean; a late attestation appended after it diverges', async () => {
    store = await postgresEventStore(infra!.databaseUrl, `${uniqueNamespace('aw')}_consensus`);
    const rt = createRuntime('consensus', store, consensusDecider, silentLogger);
    await rt.start();
    const admin = generateKeyPair();
    const keys = Array.from({ length: 4 }, () => generateKeyPair());
    const workers = Array.from({ length: 3 }, () => generateKeyPair().address);
    const execute = (stream: string, c: ConsensusCommand) => rt.execute(stream, (s) => decide(c, s));
    await execute(VALIDATORS_STREAM, { type: 'ConfigureValidators', validators: keys.map((k) => k.address), attestationWindow: 3 });
    let version = 0;
    const fromVoting = (type: string, data: object) =>
      rt.ingest({
        source: 'voting',
        streamId: 'round:s1:r1',
        version,
        position: String(++version),
        type,
        data: { solution: 's1', roundId: 'r1', ...data } as never,
      });
    await fromVoting('RoundStarted', {
      group: 'g1',
      starter: 'x',
      startBlock: 0,
      endBlock: 2,
      rewardPeriod: 0,
      quorumPercent: 50,
      voteThresholdPercent: 60,
      unresolvedPolicy: 'NONE',
      eligible: 3,
      snapshotChunks: 1,
    });
    await fromVoting('RoundSnapshot', { chunk: 0, chunks: 1, workers: workers.map((w) => [w, w]) });
    for (const w of workers) await fromVoting('VoteCast', { worker: w, result: 'aa', height: 1 });
    await fromVoting('RoundClosed', { height: 2, submitted: 3 });
    const honest = evaluateRound(rt.state().rounds.get(roundKey('s1', 'r1'))!);
    const attestation = (k: (typeof keys)[number]): ConsensusCommand => ({
      type: 'Attest',
      validator: k.address,
      solution: 's1',
      roundId: 'r1',
      ...honest,
      signature: signBytes(k, attestationBytes('s1', 'r1', honest.tally, honest.merkleRoot)).toString('hex'),
    });
    for (const k of keys.slice(0, 3)) await execute(solutionStream('s1'), attestation(k));
    const late = decide(attestation(keys[3]!), rt.state());
    await execute(CHAIN_STREAM, { type: 'ProduceBlocks', signer: admin.address, admin: admin.address, manual: true, count: 10 });
    assert.equal(rt.state().rounds.size, 0, 'r1 left at its close (block 5)');

    const log = async (): Promise<LogEvent[]> =>
      (await store!.readAll(START, 10_000)).map((e) => ({
        service: 'consensus',
        position: BigInt(e.position as unknown as string),
        streamId: e.streamId,
        version: e.version,
        type: e.type,
        data: e.data,
        ...(e.metadata === undefined ? {} : { metadata: e.metadata }),
      }));
    const clean = await audit(memorySource({ consensus: await log() }));
    assert.deepEqual(clean.divergences, [], formatReport(clean));
    assert.match(clean.notes.map((n) => n.message).join('\n'), /attestation window 3 blocks/);

    // What an older process (no window) would have recorded: the fourth's attestation after the close.
    await store.append(solutionStream('s1'), late, (await store.readStream(solutionStream('s1'))).length - 1);
    const tampered = await audit(memorySource({ consensus: await log() }));
    assert.equal(tampered.divergences.length, 1, formatReport(tampered));
    assert.match(tampered.divergences[0]!.message, /AttestationRecorded .*round r1 of solution s1 .*attestation window closed/);
    await rt.stop();
  });
});
