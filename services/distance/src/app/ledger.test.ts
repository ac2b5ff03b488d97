import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { authenticate, generateKeyPair, isDomainError } from '@ewx/platform';
import { PlaceHoldRequest, RegistryService } from '@ewx/proto/registry';
import { grpcLedger, PURPOSE } from './ledger.js';

/** A stand-in registry: checks the signature and the nonce like the real one, then answers per account. */
const answers = new Map<string, grpc.status>();
let lastNonce = 0n;
const placed: string[] = [];
let server: grpc.Server;
let port: number;

before(async () => {
  server = new grpc.Server();
  const unimplemented = (_: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED } as grpc.ServiceError);
  const impl: grpc.UntypedServiceImplementation = Object.fromEntries(Object.keys(RegistryService).map((k) => [k, unimplemented]));
  impl.placeHold = (call: grpc.ServerUnaryCall<PlaceHoldRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
    const auth = authenticate('/ewx.v1.Registry/PlaceHold', call.request, (m) => PlaceHoldRequest.encode(m).finish());
    if (auth.nonce <= lastNonce) {
      cb({
        code: grpc.status.PERMISSION_DENIED,
        details: `nonce: ${auth.nonce} was already used by ${auth.signer} (last accepted ${lastNonce}); use a larger one`,
      } as grpc.ServiceError);
      return;
    }
    lastNonce = auth.nonce;
    const code = answers.get(call.request.account) ?? grpc.status.OK;
    if (code !== grpc.status.OK) {
      cb({ code, details: `refused for ${call.request.account}` } as grpc.ServiceError);
      return;
    }
    placed.push(`${call.request.holdId}|${call.request.amount}|${call.request.purpose}`);
    cb(null, { logPosition: 1n, height: 0n });
  };
  server.addService(RegistryService, impl);
  port = await new Promise((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
});
after(() => {
  server.forceShutdown();
});

test('a placed hold is signed by the service key and carries id, amount and purpose', async () => {
  const ledger = grpcLedger(`127.0.0.1:${port}`, generateKeyPair());
  await ledger.placeHold('distance:1:1', generateKeyPair().address, 10n);
  assert.deepEqual(placed.at(-1), `distance:1:1|10|${PURPOSE}`);
  ledger.close();
});

test('refusals (short balance, an id taken by another hold, not trusted) are final DomainErrors; nothing is placed', async () => {
  const ledger = grpcLedger(`127.0.0.1:${port}`, generateKeyPair());
  for (const [code, name] of [
    [grpc.status.FAILED_PRECONDITION, 'FAILED_PRECONDITION'],
    [grpc.status.ALREADY_EXISTS, 'ALREADY_EXISTS'],
    [grpc.status.PERMISSION_DENIED, 'PERMISSION_DENIED'],
  ] as const) {
    const who = generateKeyPair().address;
    answers.set(who, code);
    const before = placed.length;
    await assert.rejects(
      ledger.placeHold('distance:2:1', who, 10n),
      (e: unknown) => isDomainError(e) && e.code === name && /registry refused the hold/.test(e.message),
    );
    assert.equal(placed.length, before);
  }
  ledger.close();
});

test("a nonce behind the registry's record (clock stepped back, shared key) is raised and retried, not taken as a refusal", async () => {
  lastNonce = BigInt(Date.now()) * 1000n + 10n ** 12n; // far ahead of the clock
  const ledger = grpcLedger(`127.0.0.1:${port}`, generateKeyPair());
  await ledger.placeHold('distance:3:1', generateKeyPair().address, 10n);
  assert.equal(placed.at(-1), `distance:3:1|10|${PURPOSE}`);
  ledger.close();
});
