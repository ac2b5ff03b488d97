import {
  BLOCK_PRODUCED,
  BLOCKS_PRODUCED,
  channelCredentials,
  clientTlsFrom,
  consensusAddressFrom,
  deadlinePollMsFrom,
  deadlineWatchFrom,
  eventSourcedService,
  heightSyncFrom,
  type Env,
  type ServiceModule,
} from '@ewx/platform';
import { distanceGrpc } from './api/grpc.js';
import { paramsFrom, registryAddressFrom, serviceKeyFrom } from './app/config.js';
import { grpcLedger, type Ledger } from './app/ledger.js';
import { startReactions } from './app/reactions.js';
import { requests } from './app/requests.js';
import { nextDeadline } from './domain/deadlines.js';
import { decide, distanceDecider } from './domain/decider.js';

export { distanceDecider } from './domain/decider.js';
export type { Ledger } from './app/ledger.js';

const redriveMsFrom = (env: Env): number => env.int('DISTANCE_REDRIVE_MS', 5000, 10, 3_600_000);

/** Builds the service; tests pass their own ledger instead of the registry over gRPC. */
/** Version of distance's fold for snapshots: bump it whenever `evolve` or the state's shape changes. */
// 2: idle evaluation periods passed inside a run of blocks (passIdle); 3: no bare `period` in the state
// (a request's requestPeriod, a pool's and a last outcome's evaluationPeriod).
export const DISTANCE_STATE_VERSION = 3;

export const distanceModuleWith = (ledgerOverride?: Ledger): ServiceModule => ({
  name: 'distance',
  protoFile: 'ewx/v1/distance.proto',
  validateConfig(env, { admin, mode }) {
    paramsFrom(env, admin);
    serviceKeyFrom(env, mode);
    registryAddressFrom(env, mode);
    clientTlsFrom(env);
    consensusAddressFrom(env);
    redriveMsFrom(env);
    deadlinePollMsFrom(env);
  },
  async create(ctx) {
    const log = ctx.log.child({ service: 'distance' });
    const params = paramsFrom(ctx.env, ctx.admin);
    const key = serviceKeyFrom(ctx.env, ctx.mode);
    const registry = registryAddressFrom(ctx.env, ctx.mode);
    const remote =
      ledgerOverride === undefined && key !== undefined && registry !== undefined
        ? grpcLedger(registry, key, undefined, channelCredentials(clientTlsFrom(ctx.env)))
        : undefined;
    const ledger: Ledger | string =
      ledgerOverride ??
      remote ??
      (key === undefined ? "set DISTANCE_SERVICE_KEY (and list its address in the registry's LEDGER_SERVICE_ACCOUNTS)" : 'set REGISTRY_ADDRESS');
    let reqs: ReturnType<typeof requests> | undefined;
    const heights = heightSyncFrom(ctx, log);
    const service = eventSourcedService(ctx, 'distance', {
      decider: distanceDecider,
      stateVersion: DISTANCE_STATE_VERSION,
      inbox: { consensus: [BLOCK_PRODUCED, BLOCKS_PRODUCED] },
      grpc: (runtime) => {
        reqs = requests(runtime, params, ledger, log);
        return [distanceGrpc(runtime, params, reqs, log, heights)];
      },
      reactions: (runtime) => {
        const reactions = startReactions(runtime, params, reqs!, log, redriveMsFrom(ctx.env));
        // A pool's evaluation period begins and ends at heights consensus does not know: asked for when the count reaches them.
        const deadlines = deadlineWatchFrom(ctx, runtime, nextDeadline, log);
        return {
          async stop() {
            await deadlines.stop();
            await reactions.stop();
          },
        };
      },
    });
    return {
      grpc: service.grpc,
      async start(hooks) {
        // Before any block is recorded: the period length is part of the log.
        await service.runtime.execute('config', (s) => decide({ type: 'Configure' }, s, params));
        await service.start(hooks);
      },
      async stop() {
        await service.stop();
        remote?.close();
        heights.close();
      },
    };
  },
});

export const distanceModule: ServiceModule = distanceModuleWith();
