import { runEmbedded, type Embedded } from '@ewx/platform';
import { ALL_MODULES } from './index.js';

/**
 * The tests' and benchmarks' network: the five services in this process, in memory
 * (DATA_DIR=memory), gRPC on `port`, blocks produced on demand (BLOCK_TIME_MS=manual), warnings
 * only; `env` adds or overrides variables (ADMIN_ADDRESS, REWARD_PERIOD_BLOCKS, …). No signal
 * handlers: the caller stops it.
 */
export function runInMemory(port: number | string, env: Record<string, string> = {}): Promise<Embedded> {
  return runEmbedded(ALL_MODULES, { DATA_DIR: 'memory', GRPC_PORT: String(port), BLOCK_TIME_MS: 'manual', LOG_LEVEL: 'warn', ...env }, { signals: false });
}
