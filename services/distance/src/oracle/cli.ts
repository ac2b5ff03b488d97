#!/usr/bin/env node
/**
 * ewx-distance: evaluates the distance rule over an `ewx-wot/1` file, one JSON line
 * per identity, so an operator or auditor can recompute any published result
 * without running the service.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_DISTANCE, evaluate } from './distance.js';
import { parseWot, WotError } from './wot.js';

export const USAGE = `Usage: ewx-distance --wot FILE [--max-distance N] [--ids ID,ID,...]

Prints {"id":<identity id>,"perbill":<integer>} for every identity of FILE, one
JSON line each, in file order: the share of referees (in parts per 10^9, rounded
down) that reach the identity by at most N certifications.

  --wot FILE          web of trust in the ewx-wot/1 format (required)
  --max-distance N    longest certification chain that counts (default ${DEFAULT_MAX_DISTANCE})
  --ids ID,ID,...     evaluate only these identities, printed in the order given
  -h, --help          show this help

Exit status: 0 ok, 1 unreadable or invalid FILE, 2 usage error.`;

/** Where the CLI reads and writes; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readFile: (path: string) => string;
}

const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  readFile: (path) => readFileSync(path, 'utf8'),
};

/** A usage error: exit status 2. */
class UsageError extends Error {}

interface Command {
  readonly help: boolean;
  readonly wot: string;
  readonly maxDistance: number;
  readonly ids: readonly number[] | undefined;
}

/** Runs the CLI on argv (without `node` and the script) and returns the exit status. */
export function main(argv: readonly string[], io: CliIo = processIo): number {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (err) {
    io.stderr(`ewx-distance: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (command.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  let text: string;
  try {
    text = io.readFile(command.wot);
  } catch (err) {
    io.stderr(`ewx-distance: cannot read ${command.wot}: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const graph = parseWot(text);
    const ids = command.ids ?? graph.ids;
    const unknown = ids.find((id) => !graph.indexOf.has(id));
    if (unknown !== undefined) throw new UsageError(`--ids: unknown identity id ${unknown} in ${command.wot}`);
    const results = evaluate(graph, ids, { maxDistance: command.maxDistance });
    io.stdout(ids.map((id, i) => `${JSON.stringify({ id, perbill: results[i] })}\n`).join(''));
    return 0;
  } catch (err) {
    if (err instanceof WotError) {
      io.stderr(`ewx-distance: ${command.wot}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof UsageError) {
      io.stderr(`ewx-distance: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

function parseCommand(argv: readonly string[]): Command {
  let parsed: { values: { wot?: string; 'max-distance'?: string; ids?: string; help?: boolean } };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        wot: { type: 'string' },
        'max-distance': { type: 'string' },
        ids: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values } = parsed;
  if (values.help === true) return { help: true, wot: '', maxDistance: DEFAULT_MAX_DISTANCE, ids: undefined };
  if (values.wot === undefined || values.wot === '') throw new UsageError('--wot FILE is required');
  return {
    help: false,
    wot: values.wot,
    maxDistance: values['max-distance'] === undefined ? DEFAULT_MAX_DISTANCE : parseMaxDistance(values['max-distance']),
    ids: values.ids === undefined ? undefined : parseIds(values.ids),
  };
}

function parseMaxDistance(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`--max-distance: expected a positive integer, got "${text}"`);
  }
  return value;
}

function parseIds(text: string): number[] {
  return text.split(',').map((part) => {
    const trimmed = part.trim();
    const value = Number(trimmed);
    if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(value)) {
      throw new UsageError(`--ids: expected identity ids separated by commas, got "${part}"`);
    }
    return value;
  });
}

/** True when this module is the program node was asked to run (also through an npm bin symlink). */
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // `ewx-distance ... | head` closes the pipe early; that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  process.exitCode = main(process.argv.slice(2));
}
