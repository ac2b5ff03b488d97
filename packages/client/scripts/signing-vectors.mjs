// Prints docs/signing-vectors.json from the built client: `node packages/client/scripts/signing-vectors.mjs > docs/signing-vectors.json`.
// The vectors are a contract: regenerate only to add a case, and check that the existing ones did not change.
import { keyPairFromSeed, signCommand, signingBytes } from '@ewx/client';
import { ProduceBlocksRequest } from '@ewx/proto/consensus';
import { ClaimRewardsRequest, DepositRequest, DisconnectWorkerRequest, RegisterGroupRequest, UpdateAllowListRequest } from '@ewx/proto/registry';
import { SubmitVoteRequest } from '@ewx/proto/voting';
import { SetRewardPeriodLengthRequest } from '@ewx/proto/rewards';

// RFC 8032 §7.1 test 1 and test 2 secret keys: their public keys are published there.
const SEED1 = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const SEED2 = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';
const other = keyPairFromSeed(SEED2).address;

const cases = [
  ['deposit', SEED1, '/ewx.v1.Registry/Deposit', 1n, DepositRequest, { account: other, amount: '1000000000000000000000' }],
  ['produce-blocks', SEED1, '/ewx.v1.Consensus/ProduceBlocks', 1733150000000000n, ProduceBlocksRequest, { count: 5 }],
  ['set-period-length', SEED1, '/ewx.v1.Rewards/SetRewardPeriodLength', 7n, SetRewardPeriodLengthRequest, { length: 20 }],
  ['submit-vote', SEED2, '/ewx.v1.Voting/SubmitVote', 42n, SubmitVoteRequest, { solution: 'demo.solution', roundId: 'r1', result: Buffer.from('c0ffee', 'hex') }],
  ['disconnect-worker (empty body)', SEED2, '/ewx.v1.Registry/DisconnectWorker', 3n, DisconnectWorkerRequest, {}],
  ['claim-rewards (repeated)', SEED2, '/ewx.v1.Registry/ClaimRewards', 4n, ClaimRewardsRequest, { groups: ['demo.group', 'other.group'] }],
  ['update-allow-list (optional bool false is present)', SEED1, '/ewx.v1.Registry/UpdateAllowList', 5n, UpdateAllowListRequest, { group: 'demo.group', enabled: false, add: [other] }],
  ['register-group (nested, zero fields left out)', SEED1, '/ewx.v1.Registry/RegisterGroup', 6n, RegisterGroupRequest, {
    config: {
      namespace: 'demo.group', info: '', minStake: '1000000000000000000', maxStake: '100000000000000000000', maxOperators: 10,
      allowListEnabled: false, startBlock: 0n, subscriptionRewardPerBlock: '1000000000000000000', votingRewardPerBlock: '1000000000000000000',
      slaVotingThreshold: 50, operationStartBlock: 1n, operationEndBlock: 100000n, withdrawalDelay: 1,
    },
    budget: '1000000000000000000000', allowList: [],
  }],
];

const vectors = cases.map(([name, seed, method, nonce, Msg, fields]) => {
  const key = keyPairFromSeed(seed);
  const request = Msg.fromPartial(fields);
  const encoded = Buffer.from(Msg.encode({ ...request, auth: undefined }).finish());
  const bytes = signingBytes(method, key.address, nonce, encoded);
  const signed = signCommand(key, method, request, nonce, (m) => Msg.encode(m).finish());
  return {
    name, seed, signer: key.address, method, nonce: nonce.toString(), request: Msg.toJSON(request),
    encoded: encoded.toString('hex'), signingBytes: bytes.toString('hex'), signature: Buffer.from(signed.auth.signature).toString('hex'),
  };
});
process.stdout.write(JSON.stringify({ format: 'ewx-signing-vectors/1', note: 'See docs/SIGNING.md. request is the proto3 JSON of the message (ts-proto toJSON) without auth.', vectors }, null, 2) + '\n');
