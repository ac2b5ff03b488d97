// Runs every compiled test file (dist/**/*.test.js) of the workspaces with Node's test runner.
// Usage: node scripts/test.mjs [filter]   e.g. `node scripts/test.mjs registry`
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = ['packages', 'services'].flatMap((d) => readdirSync(d).map((p) => join(d, p, 'dist')));
const files = [];
const walk = (dir) => {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (e.endsWith('.test.js')) files.push(p);
  }
};
roots.forEach(walk);
const filter = process.argv[2];
const selected = filter ? files.filter((f) => f.includes(filter)) : files;
if (selected.length === 0) {
  console.error(`no test files${filter ? ` matching ${filter}` : ''}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=900000', ...selected], {
  stdio: 'inherit',
  env: { LOG_LEVEL: 'warn', KAFKAJS_NO_PARTITIONER_WARNING: '1', ...process.env },
});
process.exit(r.status ?? 1);
