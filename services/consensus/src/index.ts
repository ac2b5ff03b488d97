import { ConfigError, eventSourcedService, type Env, type ServiceModule } from '@ewx/platform';
import { consensusGrpc } from './api/grpc.js';
import { startBlockClock } from './app/clock.js';
import { consensusDecider } from './domain/decider.js';

export { consensusDecider } from './domain/decider.js';

/** BLOCK_TIME_MS: milliseconds between blocks (default 6000), or `manual`. */
export function blockTimeFrom(env: Env): number | 'manual' {
  const v = env.optional('BLOCK_TIME_MS') ?? '6000';
  if (v === 'manual') return 'manual';
  if (!/^\d+$/.test(v) || Number(v) < 10 || Number(v) > 3_600_000) throw new ConfigError('BLOCK_TIME_MS', '`manual` or milliseconds from 10 to 3600000', v);
  return Number(v);
}

export const consensusModule: ServiceModule = {
  name: 'consensus',
  protoFile: 'ewx/v1/consensus.proto',
  async create(ctx) {
    const blockTime = blockTimeFrom(ctx.env);
    const log = ctx.log.child({ service: 'consensus' });
    return eventSourcedService(ctx, 'consensus', {
      decider: consensusDecider,
      inbox: {},
      grpc: (runtime) => [consensusGrpc(runtime, ctx.admin, blockTime === 'manual', log)],
      reactions: (runtime) => (blockTime === 'manual' ? undefined : startBlockClock(runtime, blockTime, log)),
    });
  },
};
