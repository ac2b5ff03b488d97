import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { wotDataFile } from '../oracle/testing.js';
import type { WotImported } from './events.js';
import { ADMIN, addr, ofType } from './testing.js';
import { distance } from './spec-support.js';
import { IMPORT_CHUNK_BYTES, MAX_IMPORT_JSON_CHARS } from './wot.js';

describe('web of trust', () => {
  test('the admin adds identities and certifications; they change the web of trust by events', () => {
    const s = distance();
    s.run({ type: 'AddIdentity', signer: ADMIN, identity: 1, member: true });
    s.run({ type: 'AddIdentity', signer: ADMIN, identity: 2, member: false });
    const [e] = s.run({ type: 'AddCertification', signer: ADMIN, issuer: 1, receiver: 2 });
    assert.equal(e!.type, 'CertificationAdded');
    assert.deepEqual(s.state.wot.get(2), { id: 2, member: false, certifiedBy: [1] });
    s.run({ type: 'SetMembership', signer: ADMIN, identity: 2, member: true });
    assert.equal(s.state.wot.get(2)!.member, true);
    s.run({ type: 'RemoveCertification', signer: ADMIN, issuer: 1, receiver: 2 });
    assert.deepEqual(s.state.wot.get(2)!.certifiedBy, []);
    assert.equal(s.state.wotVersion, 5);
  });

  test('only the identity-registry admin changes the web of trust', () => {
    const s = distance();
    s.when({ type: 'AddIdentity', signer: addr(5), identity: 1, member: true }).thenThrows('PERMISSION_DENIED', /identity-registry admin/);
  });

  test('bad changes are refused naming the field: duplicate identity, unknown, self or duplicate certification, missing one', () => {
    const s = distance();
    s.run({ type: 'AddIdentity', signer: ADMIN, identity: 1, member: true });
    s.run({ type: 'AddIdentity', signer: ADMIN, identity: 2, member: true });
    s.when({ type: 'AddIdentity', signer: ADMIN, identity: 1, member: true }).thenThrows('ALREADY_EXISTS', /identity 1/);
    s.when({ type: 'AddIdentity', signer: ADMIN, identity: -1, member: true }).thenThrows('INVALID_ARGUMENT', /^identity:/);
    s.when({ type: 'AddCertification', signer: ADMIN, issuer: 9, receiver: 1 }).thenThrows('NOT_FOUND', /issuer: identity 9/);
    s.when({ type: 'AddCertification', signer: ADMIN, issuer: 1, receiver: 1 }).thenThrows('INVALID_ARGUMENT', /issuer: .*certify itself/);
    s.run({ type: 'AddCertification', signer: ADMIN, issuer: 1, receiver: 2 });
    s.when({ type: 'AddCertification', signer: ADMIN, issuer: 1, receiver: 2 }).thenThrows('ALREADY_EXISTS', /1 → 2/);
    s.when({ type: 'RemoveCertification', signer: ADMIN, issuer: 2, receiver: 1 }).thenThrows('NOT_FOUND', /2 → 1/);
    s.when({ type: 'SetMembership', signer: ADMIN, identity: 3, member: true }).thenThrows('NOT_FOUND', /identity 3/);
  });

  test('an import creates or replaces the identities of the file and leaves the others', () => {
    const s = distance();
    s.run({ type: 'AddIdentity', signer: ADMIN, identity: 7, member: true });
    s.run({
      type: 'ImportWot',
      signer: ADMIN,
      json: JSON.stringify({
        format: 'ewx-wot/1',
        identities: [
          { id: 1, member: true, certifiedBy: [2] },
          { id: 2, member: false, certifiedBy: [1] },
        ],
      }),
    });
    assert.deepEqual([...s.state.wot.keys()].sort(), [1, 2, 7]);
    s.run({ type: 'ImportWot', signer: ADMIN, json: JSON.stringify({ format: 'ewx-wot/1', identities: [{ id: 2, member: true, certifiedBy: [] }] }) });
    assert.deepEqual(s.state.wot.get(2), { id: 2, member: true, certifiedBy: [] });
    assert.deepEqual(s.state.wot.get(1)!.certifiedBy, [2]);
  });

  test('a malformed file is INVALID_ARGUMENT naming the identity and the field, and changes nothing', () => {
    const s = distance();
    const bad = {
      format: 'ewx-wot/1',
      identities: [
        { id: 1, member: true, certifiedBy: [] },
        { id: 2, member: 'yes', certifiedBy: [1] },
      ],
    };
    s.when({ type: 'ImportWot', signer: ADMIN, json: JSON.stringify(bad) }).thenThrows('INVALID_ARGUMENT', /identities\[1\]\.member.*id 2/);
    const unknown = { format: 'ewx-wot/1', identities: [{ id: 1, member: true, certifiedBy: [42] }] };
    s.when({ type: 'ImportWot', signer: ADMIN, json: JSON.stringify(unknown) }).thenThrows(
      'INVALID_ARGUMENT',
      /identities\[0\]\.certifiedBy\[0\].*unknown identity id 42/,
    );
    s.when({ type: 'ImportWot', signer: ADMIN, json: '{"format":"ewx-wot/2","identities":[]}' }).thenThrows('INVALID_ARGUMENT', /format/);
    s.when({ type: 'ImportWot', signer: ADMIN, json: 'not json' }).thenThrows('INVALID_ARGUMENT', /json: not valid JSON/);
    assert.equal(s.state.wot.size, 0);
  });

  test('deeply nested JSON anywhere in the file is INVALID_ARGUMENT on json (not a stack overflow), and changes nothing', () => {
    const s = distance();
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const wot = (identities: string) => `{"format":"ewx-wot/1","identities":${identities}}`;
    for (const [json, where] of [
      [deep, /^json: expected a JSON object, got a deeply nested array/],
      [`{"format":${deep},"identities":[]}`, /^json: format: expected "ewx-wot\/1", got a deeply nested array/],
      [wot(deep), /^json: identities\[0\]: expected an object, got a deeply nested array/],
      [wot(`[{"id":${deep},"member":true,"certifiedBy":[]}]`), /^json: identities\[0\]\.id: expected a non-negative integer, got a deeply nested array/],
      [wot(`[{"id":1,"member":${deep},"certifiedBy":[]}]`), /^json: identities\[0\]\.member: expected a boolean/],
      [
        wot(`[{"id":1,"member":true,"certifiedBy":[${deep}]}]`),
        /^json: identities\[0\]\.certifiedBy\[0\]: expected a non-negative integer, got a deeply nested array/,
      ],
    ] as const)
      s.when({ type: 'ImportWot', signer: ADMIN, json }).thenThrows('INVALID_ARGUMENT', where);
    assert.equal(s.state.wot.size, 0);
  });

  test('a file longer than MAX_IMPORT_JSON_CHARS is refused on json before it is read', () => {
    const s = distance();
    const json = `{"format":"ewx-wot/1","identities":[]${' '.repeat(MAX_IMPORT_JSON_CHARS)}}`;
    s.when({ type: 'ImportWot', signer: ADMIN, json }).thenThrows(
      'INVALID_ARGUMENT',
      new RegExp(`^json: at most ${MAX_IMPORT_JSON_CHARS} characters .*, got ${json.length}$`),
    );
  });

  const g1 = wotDataFile('g1-wot.json');
  test('the Ğ1 file (~1 MB) imports in chunks, each event below 512 KiB', { skip: g1 === undefined ? 'shared/data/g1-wot.json not found' : false }, () => {
    const s = distance();
    const text = readFileSync(g1!, 'utf8');
    const events = s.run({ type: 'ImportWot', signer: ADMIN, json: text });
    assert.ok(events.length >= 3, `expected several chunks, got ${events.length}`);
    for (const e of events) assert.ok(JSON.stringify(e.data).length < 512 * 1024);
    for (const e of events) assert.ok(JSON.stringify(e.data).length <= IMPORT_CHUNK_BYTES + 200);
    const chunks = ofType<WotImported>(events, 'WotImported');
    assert.deepEqual(
      chunks.map((c) => c.chunk),
      chunks.map((_, i) => i),
    );
    assert.equal(s.state.wot.size, 12_533);
  });
});
