import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What a solution's logic is told about the round it computes. */
export interface RoundInput {
  readonly solution: string;
  readonly roundId: string;
  readonly group: string;
  /** The solution's logic reference (content id): the key the handler was found by. */
  readonly logicRef: string;
  readonly startBlock: bigint;
  readonly endBlock: bigint;
  readonly period: number;
  /** The voting worker's address. */
  readonly worker: string;
}

/**
 * The output of a solution's logic. Bytes of 1..64 are the vote as they are; longer bytes (or a
 * string, taken as UTF-8) of more than 64 bytes are voted as their sha256. `undefined`/`null`
 * abstains: no vote for this round.
 */
export type ComputeResult = Uint8Array | string | null | undefined;

/** Where a WORKER-started solution stands, for choosing the id of the round to start. */
export interface SlotContext {
  readonly solution: string;
  readonly height: bigint;
  readonly period: { readonly index: number; readonly firstBlock: bigint; readonly lastBlock: bigint };
  readonly maxWaitingThreshold: bigint;
}

export interface Handler {
  /** Where it came from, for logs: a module path or a command line. */
  readonly source: string;
  compute(round: RoundInput): ComputeResult | Promise<ComputeResult>;
  /**
   * For a solution whose rounds workers start (`voting_start_method = WORKER`): the id of the
   * round that should run at this height (every worker must choose the same), or undefined for
   * none. Default: `defaultRoundId`.
   */
  roundIdAt?(ctx: SlotContext): string | undefined;
}

/**
 * The default schedule of worker-started rounds: one round per `max_waiting_threshold` blocks,
 * counted from the start of the reward period (`p<period>-s<slot>`), so every worker that looks
 * at the same height names the same round. Workers see the height a block or two late, so a slot
 * is used only if a round started anywhere in it still ends within the period (voting refuses a
 * round that would end after the period's last block): the last, shorter slots of a period stay
 * empty.
 */
export function defaultRoundId(ctx: SlotContext): string | undefined {
  const w = ctx.maxWaitingThreshold;
  if (w <= 0n || ctx.height < ctx.period.firstBlock) return undefined;
  const slot = (ctx.height - ctx.period.firstBlock) / w;
  const slotStart = ctx.period.firstBlock + slot * w;
  if (slotStart + 2n * w - 1n > ctx.period.lastBlock) return undefined;
  return `p${ctx.period.index}-s${slot}`;
}

/** Logic reference → handler. */
export type HandlerRegistry = Map<string, Handler>;

export const MAX_VOTE_BYTES = 64;

/** The bytes voted for a computed result (see `ComputeResult`); undefined to abstain. */
export function voteBytes(result: ComputeResult): Uint8Array | undefined {
  if (result === null || result === undefined) return undefined;
  const bytes = typeof result === 'string' ? Buffer.from(result, 'utf8') : Buffer.from(result);
  if (bytes.length === 0) throw new Error('the handler returned an empty result (return undefined to abstain)');
  return bytes.length <= MAX_VOTE_BYTES ? bytes : createHash('sha256').update(bytes).digest();
}

/** JSON of a round for an external command's stdin (heights as decimal strings). */
export const roundJson = (round: RoundInput): string => JSON.stringify(round, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));

/**
 * An external command as a handler: run through the shell with the round as JSON on stdin; its
 * stdout, less one trailing newline, is the result (empty output abstains). A non-zero exit or a
 * run over `timeoutMs` fails the computation (no vote).
 */
export function commandHandler(command: string, timeoutMs = 30_000): Handler {
  return {
    source: `command: ${command}`,
    compute: (round) =>
      new Promise((resolvePromise, reject) => {
        const child = spawn(command, { shell: true, stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (b: Buffer) => out.push(b));
        child.stderr.on('data', (b: Buffer) => err.push(b));
        child.on('error', reject);
        child.on('close', (code, signal) => {
          if (code !== 0) {
            const why = signal ? `was stopped by ${signal}` : `exited with code ${code}`;
            reject(new Error(`handler command ${why}: ${Buffer.concat(err).toString('utf8').trim().slice(0, 300)}`));
            return;
          }
          const text = Buffer.concat(out)
            .toString('utf8')
            .replace(/\r?\n$/, '');
          resolvePromise(text === '' ? undefined : text);
        });
        child.stdin.on('error', () => {
          /* the command may not read its input */
        });
        child.stdin.end(roundJson(round) + '\n');
      }),
  };
}

type ComputeFn = Handler['compute'];
const isFn = (x: unknown): x is ComputeFn => typeof x === 'function';

/**
 * The handlers a module exports, by logic reference:
 * - `export const logicRef = 'bafy…'` (or an array of them) with `export function compute(round)`;
 * - `export function compute(round)` alone: the file name without its extension is the reference;
 * - `export default { 'bafy…': compute, 'bafy2…': { compute } }`: a map of several.
 */
export async function loadHandlerModule(path: string): Promise<HandlerRegistry> {
  const file = resolve(path);
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const out: HandlerRegistry = new Map();
  if (isFn(mod.compute)) {
    const refs = mod.logicRef === undefined ? [basename(file, extname(file))] : ([] as unknown[]).concat(mod.logicRef);
    for (const ref of refs) {
      if (typeof ref !== 'string' || ref === '') throw new Error(`handler ${file}: logicRef must be a non-empty string or an array of them`);
      out.set(ref, { source: file, compute: mod.compute, ...(isFn(mod.roundIdAt) ? { roundIdAt: mod.roundIdAt as unknown as Handler['roundIdAt'] } : {}) });
    }
  } else if (mod.default && typeof mod.default === 'object') {
    for (const [ref, h] of Object.entries(mod.default as Record<string, unknown>)) {
      const compute = isFn(h) ? h : h && typeof h === 'object' && isFn((h as { compute?: unknown }).compute) ? (h as Handler).compute.bind(h) : undefined;
      if (!compute) throw new Error(`handler ${file}: default export entry ${JSON.stringify(ref)} is neither a function nor { compute }`);
      out.set(ref, { source: file, compute });
    }
  }
  if (out.size === 0) throw new Error(`handler ${file}: exports no compute(round) function (nor a default map of logic reference → compute)`);
  return out;
}

const MODULE_EXTENSIONS = new Set(['.js', '.mjs', '.cjs']);

/** A module, or every .js/.mjs/.cjs file of a directory (not recursive). */
export async function loadHandlers(path: string): Promise<HandlerRegistry> {
  const full = resolve(path);
  let isDir: boolean;
  try {
    isDir = statSync(full).isDirectory();
  } catch {
    throw new Error(`handlers: no such file or directory: ${path}`);
  }
  const files = isDir
    ? readdirSync(full)
        .filter((f) => MODULE_EXTENSIONS.has(extname(f)))
        .sort()
        .map((f) => join(full, f))
    : [full];
  const out: HandlerRegistry = new Map();
  for (const f of files) {
    for (const [ref, h] of await loadHandlerModule(f)) {
      const before = out.get(ref);
      if (before) throw new Error(`handlers: logic reference ${JSON.stringify(ref)} is served by both ${before.source} and ${h.source}`);
      out.set(ref, h);
    }
  }
  return out;
}

/** `ref=command` from `--handler`. */
export function parseCommandHandler(spec: string): [string, Handler] {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1) throw new Error(`--handler: expected ref=command, got ${JSON.stringify(spec)}`);
  return [spec.slice(0, eq), commandHandler(spec.slice(eq + 1))];
}
