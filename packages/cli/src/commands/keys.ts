import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Command } from 'commander';
import { generateKeyPair, isSeed, keyPairFromSeed, readKeyFile, sr25519FromMiniSecret, sr25519FromMnemonic, writeKeyFile } from '@ewx/client';
import { contextOf, type Ctx } from '../context.js';
import { UsageError } from '../parse.js';

function create(ctx: Ctx, name: string, seed: string): { name: string; address: string; file: string } {
  const file = ctx.keyFile(name);
  if (existsSync(file)) throw new UsageError(`key ${name}: ${file} already exists (a key file is never overwritten)`);
  mkdirSync(ctx.keysDir, { recursive: true, mode: 0o700 });
  const key = keyPairFromSeed(seed);
  writeKeyFile(file, key);
  chmodSync(file, 0o600);
  return { name, address: key.address, file };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function keysCommand(): Command {
  const keys = new Command('keys').description(
    'key files in the keys directory (mode 0600): ed25519 (the seed as 64 hex characters, address ed25519:<hex>) or sr25519 (sr25519:<hex mini-secret>, SS58 address) as Energy Web X wallets hold',
  );

  keys
    .command('new <name>')
    .description('create a key named <name>; prints its address')
    .option('--sr25519', 'an sr25519 key with an SS58 address (prefix 42) instead of ed25519')
    .action(function (this: Command, name: string, o: { sr25519?: boolean }) {
      const ctx = contextOf(this);
      const k = create(ctx, name, generateKeyPair(o.sr25519 ? 'sr25519' : 'ed25519').seed);
      ctx.print(k, k);
    });

  keys
    .command('show <name>')
    .description('the address of a key (a name or a path to a key file)')
    .option('-q, --quiet', 'print the address only')
    .action(function (this: Command, name: string, o: { quiet?: boolean }) {
      const ctx = contextOf(this);
      const file = ctx.keyFile(name);
      let address: string;
      try {
        address = readKeyFile(file).address;
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      if (o.quiet && !ctx.json) process.stdout.write(address + '\n');
      else ctx.print({ name, address, file }, { name, address, file });
    });

  keys
    .command('import <name>')
    .description(
      "store an existing key under <name>: an ed25519 seed or a key file (e.g. .data/embedded/admin.key), or an Energy Web X wallet's sr25519 key from its mnemonic or secret seed",
    )
    .option('--from <file>', 'a file holding the key: 64 hex characters (ed25519 seed) or sr25519:<64 hex>')
    .option('--stdin', 'read the key from standard input (keeps it out of the shell history)')
    .option('--mnemonic', 'the input is a BIP-39 mnemonic (12–24 words): the sr25519 account a Substrate wallet shows for it (SS58, prefix 42)')
    .option('--sr25519', 'the input is an sr25519 secret seed (64 hex characters, 0x optional, as `subkey inspect` prints it)')
    .action(async function (this: Command, name: string, o: { from?: string; stdin?: boolean; mnemonic?: boolean; sr25519?: boolean }) {
      const ctx = contextOf(this);
      if (!!o.from === !!o.stdin) throw new UsageError('import: give exactly one of --from <file> or --stdin');
      if (o.mnemonic && o.sr25519) throw new UsageError('import: give at most one of --mnemonic or --sr25519');
      if (o.from && !existsSync(o.from)) throw new UsageError(`import: file not found: ${o.from}`);
      const input = (o.from ? readFileSync(o.from, 'utf8') : await readStdin()).trim();
      const where = o.from ? ` in ${o.from}` : ' on standard input';
      let seed: string;
      try {
        if (o.mnemonic) seed = sr25519FromMnemonic(input).seed;
        else if (o.sr25519) seed = sr25519FromMiniSecret(input).seed;
        else if (isSeed(input.toLowerCase())) seed = input.toLowerCase();
        else throw new Error(`expected an ed25519 seed as 64 hex characters or sr25519:<64 hex> (use --mnemonic for a phrase, --sr25519 for a 0x secret seed)`);
      } catch (e) {
        throw new UsageError(`import: ${(e as Error).message}${where}`);
      }
      const k = create(ctx, name, seed);
      ctx.print(k, k);
    });

  keys
    .command('list')
    .description('every key in the keys directory')
    .action(function (this: Command) {
      const ctx = contextOf(this);
      const files = existsSync(ctx.keysDir)
        ? readdirSync(ctx.keysDir)
            .filter((f) => f.endsWith('.key'))
            .sort()
        : [];
      const rows = files.map((f) => {
        const file = join(ctx.keysDir, f);
        try {
          return { name: basename(f, '.key'), address: readKeyFile(file).address };
        } catch {
          return { name: basename(f, '.key'), address: '(unreadable key file)' };
        }
      });
      ctx.print(rows, rows);
    });
  return keys;
}
