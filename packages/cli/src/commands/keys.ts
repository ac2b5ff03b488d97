import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Command } from 'commander';
import { generateKeyPair, isSeed, keyPairFromSeed, readKeyFile, writeKeyFile } from '@ewx/client';
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
  const keys = new Command('keys').description('ed25519 key files (the seed as 64 hex characters, mode 0600) in the keys directory');

  keys.command('new <name>').description('create a key named <name>; prints its address')
    .action(function (this: Command, name: string) {
      const ctx = contextOf(this);
      const k = create(ctx, name, generateKeyPair().seed);
      ctx.print(k, k);
    });

  keys.command('show <name>').description('the address of a key (a name or a path to a key file)')
    .option('-q, --quiet', 'print the address only')
    .action(function (this: Command, name: string, o: { quiet?: boolean }) {
      const ctx = contextOf(this);
      const file = ctx.keyFile(name);
      let address: string;
      try { address = readKeyFile(file).address; } catch (e) { throw new UsageError((e as Error).message); }
      if (o.quiet && !ctx.json) process.stdout.write(address + '\n');
      else ctx.print({ name, address, file }, { name, address, file });
    });

  keys.command('import <name>').description('store an existing seed under <name>: from a key file (e.g. .data/embedded/admin.key) or standard input')
    .option('--from <file>', 'a file holding the seed as 64 hex characters')
    .option('--stdin', 'read the seed from standard input (keeps it out of the shell history)')
    .action(async function (this: Command, name: string, o: { from?: string; stdin?: boolean }) {
      const ctx = contextOf(this);
      if (!!o.from === !!o.stdin) throw new UsageError('import: give exactly one of --from <file> or --stdin');
      if (o.from && !existsSync(o.from)) throw new UsageError(`import: file not found: ${o.from}`);
      const seed = (o.from ? readFileSync(o.from, 'utf8') : await readStdin()).trim();
      if (!isSeed(seed)) throw new UsageError(`import: expected an ed25519 seed as 64 hex characters${o.from ? ` in ${o.from}` : ' on standard input'}`);
      const k = create(ctx, name, seed.toLowerCase());
      ctx.print(k, k);
    });

  keys.command('list').description('every key in the keys directory')
    .action(function (this: Command) {
      const ctx = contextOf(this);
      const files = existsSync(ctx.keysDir) ? readdirSync(ctx.keysDir).filter((f) => f.endsWith('.key')).sort() : [];
      const rows = files.map((f) => {
        const file = join(ctx.keysDir, f);
        try { return { name: basename(f, '.key'), address: readKeyFile(file).address }; } catch { return { name: basename(f, '.key'), address: '(unreadable key file)' }; }
      });
      ctx.print(rows, rows);
    });
  return keys;
}
