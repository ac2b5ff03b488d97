import { Command, Option } from 'commander';
import { accountCommand, networkCommand, statusCommand, waitCommand, watchCommand } from './commands/reads.js';
import { adminCommand } from './commands/admin.js';
import { auditCommand, logCommand } from './commands/audit.js';
import { keysCommand } from './commands/keys.js';
import { operatorCommand } from './commands/operator.js';
import { groupCommand, registrarCommand, solutionCommand } from './commands/registrar.js';
import { roundCommand } from './commands/rounds.js';
import { votingCommand } from './commands/voting.js';
import { workerCommand } from './commands/worker.js';
import { DEFAULT_KEYS_DIR } from './context.js';

export const EXIT = { OK: 0, ERROR: 1, USAGE: 2, NOT_FOUND: 3, REFUSED: 4, UNAVAILABLE: 5, TIMEOUT: 6, DIVERGENCE: 7 } as const;

const EXIT_HELP = `
Exit codes: 0 done · 2 bad input (nothing sent, or INVALID_ARGUMENT) · 3 not found ·
4 refused (PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION, ALREADY_EXISTS) ·
5 service unreachable · 6 timed out waiting · 7 audit divergences (or an export altered after
it was written) · 1 anything else. Errors are one line on stderr.
Amounts are tokens (10, 0.5) or base units with the suffix base (42base).`;

export function program(): Command {
  const p = new Command('ewx')
    .description('command line for the EWX worker node network')
    .addOption(new Option('--keys-dir <dir>', 'where key files live').env('EWX_KEYS_DIR').default(DEFAULT_KEYS_DIR()))
    .addOption(new Option('-a, --address <host:port>', 'the embedded system (all services on one address)').env('EWX_ADDRESS').default('127.0.0.1:50051'))
    .addOption(new Option('--registry <host:port>', 'standalone: the registry (give all five)').env('EWX_REGISTRY'))
    .addOption(new Option('--voting <host:port>', 'standalone: voting').env('EWX_VOTING'))
    .addOption(new Option('--consensus <host:port>', 'standalone: consensus').env('EWX_CONSENSUS'))
    .addOption(new Option('--rewards <host:port>', 'standalone: rewards').env('EWX_REWARDS'))
    .addOption(new Option('--distance <host:port>', 'standalone: distance').env('EWX_DISTANCE'))
    .option('--json', 'machine-readable output (amounts in base units)', false)
    .addOption(
      new Option(
        '--no-retry',
        'fail at the first UNAVAILABLE instead of retrying with backoff (up to 5 attempts, about 3 s against an unreachable address); `ewx wait` ends at its first failing check (env: EWX_NO_RETRY=1)',
      ),
    )
    .addHelpText('after', EXIT_HELP)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  for (const c of [
    keysCommand(),
    statusCommand(),
    networkCommand(),
    accountCommand(),
    adminCommand(),
    registrarCommand(),
    groupCommand(),
    solutionCommand(),
    roundCommand(),
    operatorCommand(),
    workerCommand(),
    waitCommand(),
    watchCommand(),
    auditCommand(),
    logCommand(),
    votingCommand(),
  ])
    p.addCommand(c);
  // Every subcommand reports usage errors the same way (one line, exit 2) and shows the exit codes.
  const walk = (c: Command): void => {
    c.exitOverride();
    c.showHelpAfterError(false);
    c.commands.forEach(walk);
  };
  p.commands.forEach(walk);
  return p;
}
