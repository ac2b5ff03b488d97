import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, counterNonces, generateKeyPair, keySigner, type Ewx } from '@ewx/client';
import { ALL_MODULES, embeddedKeys } from '@ewx/embedded';
import { runEmbedded, type Embedded } from '@ewx/platform';
import { startWorker, type Handler, type VoteOutcome, type WorkerRuntime } from '@ewx/worker';
import { setUpScenario, type Scenario } from '@ewx/worker/scenario';
import { pino, type Logger } from 'pino';

export const GROUP = 'demo.group';
export const SOLUTION = 'demo.solution';
export const LOGIC_REF = 'bafy-demo-logic';

export type Kind = 'honest' | 'wrong' | 'silent';

export interface DemoOptions {
  readonly workers: number;
  readonly wrong: number;
  readonly silent: number;
  readonly blockMs: number;
  readonly periodBlocks: number;
  readonly maxWaiting: number;
  readonly start: 'WORKER' | 'REGISTRAR';
  /** Data folder; a temporary one (removed at the end) when undefined. */
  readonly data?: string;
  /** gRPC port of the embedded system (0: a free one). */
  readonly port: number;
  /** Worker logs (JSON lines) go to this file; none when undefined. */
  readonly logFile?: string;
}

export interface Demo {
  readonly ewx: Ewx;
  readonly address: string;
  readonly dataDir: string;
  readonly scenario: Scenario;
  readonly kinds: readonly Kind[];
  /** The services' logs, to read only (the dashboard's audit view). */
  readonly logs: Embedded['logs'];
  readonly outcomes: Map<Kind, Record<VoteOutcome['outcome'], number>>;
  /** Blocks produced by the demo's clock; errors of the clock, if any. */
  clockError(): string | undefined;
  stop(): Promise<void>;
}

/** Honest workers agree on a hash of the round; wrong ones each vote something of their own; silent ones abstain. */
export const logic: Record<Kind, Handler> = {
  honest: { source: 'demo: honest', compute: (r) => createHash('sha256').update(`${r.solution}/${r.roundId}`).digest() },
  wrong: { source: 'demo: wrong', compute: (r) => createHash('sha256').update(`${r.worker}/${r.roundId}`).digest() },
  silent: { source: 'demo: silent', compute: () => undefined },
};

export function kindsOf(o: Pick<DemoOptions, 'workers' | 'wrong' | 'silent'>): Kind[] {
  if (o.wrong + o.silent > o.workers) throw new Error(`--wrong ${o.wrong} and --silent ${o.silent} add up to more than --workers ${o.workers}`);
  return Array.from({ length: o.workers }, (_, i): Kind => (i < o.workers - o.wrong - o.silent ? 'honest' : i < o.workers - o.silent ? 'wrong' : 'silent'));
}

/**
 * Starts the embedded system in this process, sets up a registrar, a group and a solution and one
 * operator per worker (through the client kit, signed like any client), starts a worker runtime
 * per operator and a clock that produces a block every `blockMs` through the admin.
 */
export async function startDemo(o: DemoOptions, onStep: (step: string) => void = () => {}): Promise<Demo> {
  const kinds = kindsOf(o);
  let dataDir: string;
  let temporary = false;
  if (o.data) {
    dataDir = resolve(o.data);
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0)
      throw new Error(`--data ${o.data}: the folder is not empty (the demo sets up a new network; give an empty or new folder)`);
    mkdirSync(dataDir, { recursive: true });
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'ewx-demo-'));
    temporary = true;
  }
  const admin = generateKeyPair();
  const env: Record<string, string> = {
    DATA_DIR: dataDir,
    GRPC_PORT: String(o.port),
    BLOCK_TIME_MS: 'manual',
    ADMIN_ADDRESS: admin.address,
    REWARD_PERIOD_BLOCKS: String(o.periodBlocks),
    REWARDS_SETTLEMENT_DELAY: '1',
  };
  embeddedKeys(env as NodeJS.ProcessEnv);
  let system: Embedded | undefined;
  const runtimes: WorkerRuntime[] = [];
  let ewx: Ewx | undefined;
  let clock: Promise<void> | undefined;
  let running = true;
  let clockError: string | undefined;
  const cleanUp = async (): Promise<void> => {
    running = false;
    await clock;
    await Promise.all(runtimes.map((r) => r.stop(1_000)));
    ewx?.close();
    await system?.stop();
    if (temporary) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    onStep('starting the embedded system');
    system = await runEmbedded(ALL_MODULES, env, { signals: false });
    const address = `127.0.0.1:${system.server.port}`;
    ewx = connect({ address, signer: keySigner(admin, counterNonces()) });
    onStep(`setting up a registrar, ${GROUP}, ${SOLUTION} and ${o.workers} operators`);
    const scenario = await setUpScenario({
      ewx,
      admin: keySigner(admin, counterNonces()),
      group: GROUP,
      operators: o.workers,
      budget: 1_000,
      solutions: [{ namespace: SOLUTION, logicRef: LOGIC_REF, startMethod: o.start, maxWaiting: o.maxWaiting, quorumPercent: 50, voteThresholdPercent: 60 }],
    });
    const log: Logger = o.logFile ? pino({ level: 'info' }, pino.destination({ dest: o.logFile, sync: false })) : pino({ level: 'silent' });
    const outcomes = new Map<Kind, Record<VoteOutcome['outcome'], number>>(
      (['honest', 'wrong', 'silent'] as Kind[]).map((k) => [k, { accepted: 0, refused: 0, missed: 0, abstained: 0, failed: 0 }]),
    );
    const kindOf = new Map(scenario.operators.map((op, i) => [op.worker.key.address, kinds[i]!]));
    onStep(`starting ${o.workers} worker runtimes`);
    scenario.operators.forEach((op, i) => {
      runtimes.push(
        startWorker({
          ewx: ewx!.withSigner(op.worker.signer),
          signer: op.worker.signer,
          operator: op.key.address,
          handlers: new Map([[LOGIC_REF, logic[kinds[i]!]]]),
          logger: log.child({ kind: kinds[i] }),
          pollMs: Math.max(100, Math.min(250, o.blockMs * 2)),
          onOutcome: (x) => {
            outcomes.get(kindOf.get(x.worker)!)![x.outcome]++;
          },
        }),
      );
    });
    // Stakes taken in period 0 count from period 1: nothing can happen before it, so its remaining blocks come at once.
    const now = await ewx.rewards.getCurrentPeriod({});
    const rest = Number((now.period?.lastBlock ?? now.height) - now.height);
    if (rest > 0) {
      onStep(`period ${now.period?.index}: the stakes count from the next period; producing its remaining ${rest} blocks at once`);
      await ewx.consensus.produceBlocks({ count: rest });
    }
    // The clock: one block every blockMs through the admin (ProduceBlocks), as a collator would.
    const c = ewx;
    clock = (async () => {
      let next = Date.now();
      while (running) {
        try {
          const { height } = await c.consensus.produceBlocks({ count: 1 });
          clockError = undefined;
          // A registrar-started solution: the demo's registrar starts a round every maxWaiting blocks.
          if (o.start === 'REGISTRAR' && height % BigInt(o.maxWaiting) === 0n) {
            c.voting.startRound({ solution: SOLUTION, roundId: `r${height}` }, { signer: scenario.registrar.signer }).catch(() => {
              /* e.g. the round would end after the period: the next slot tries again */
            });
          }
        } catch (e) {
          clockError = (e as Error).message;
        }
        next += o.blockMs;
        const wait = next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        else next = Date.now();
      }
    })();
    return { ewx, address, dataDir, scenario, kinds, logs: system!.logs, outcomes, clockError: () => clockError, stop: cleanUp };
  } catch (e) {
    await cleanUp();
    throw e;
  }
}
