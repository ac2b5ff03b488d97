#!/usr/bin/env node
import { status } from '@grpc/grpc-js';
import { CommanderError } from 'commander';
import { EwxCallError } from '@ewx/client';
import { ExitError, UsageError } from './parse.js';
import { EXIT, program } from './program.js';

const CODE_EXIT: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: EXIT.USAGE,
  [status.NOT_FOUND]: EXIT.NOT_FOUND,
  [status.PERMISSION_DENIED]: EXIT.REFUSED,
  [status.UNAUTHENTICATED]: EXIT.REFUSED,
  [status.FAILED_PRECONDITION]: EXIT.REFUSED,
  [status.ALREADY_EXISTS]: EXIT.REFUSED,
  [status.UNAVAILABLE]: EXIT.UNAVAILABLE,
  [status.DEADLINE_EXCEEDED]: EXIT.UNAVAILABLE,
};

const oneLine = (s: string): string =>
  s
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\.? *Resolution note:.*$/, '')
    .trim();

function fail(code: number, message: string): never {
  process.stderr.write(`ewx: ${oneLine(message)}\n`);
  process.exit(code);
}

try {
  await program().parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Help and version exit 0; commander has already printed its one-line usage error.
    process.exit(e.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
  }
  if (e instanceof UsageError) fail(EXIT.USAGE, e.message);
  if (e instanceof ExitError) fail(e.code, e.message);
  if (EwxCallError.is(e)) {
    const method = e.method.split('/').pop();
    if (e.code === status.UNAVAILABLE) fail(EXIT.UNAVAILABLE, `cannot reach the service for ${method} (is the network running? see --address): ${e.details}`);
    fail(CODE_EXIT[e.code] ?? EXIT.ERROR, `${method} refused (${e.codeName}): ${e.details}`);
  }
  const message = (e as Error).message ?? String(e);
  fail(/^timed out after/.test(message) ? EXIT.TIMEOUT : EXIT.ERROR, message);
}
