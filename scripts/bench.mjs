// Runs the `bench` script of every workspace that has one (after `npm run build`), one after the
// other, so figures are not taken while another benchmark loads the machine.
// Usage: npm run bench [-- <workspace filter>]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const filter = process.argv[2];
const dirs = ['packages', 'services'].flatMap((d) => readdirSync(d).map((p) => join(d, p)));
let failed = 0;
for (const dir of dirs) {
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch {
    continue;
  }
  if (!pkg.scripts?.bench || (filter && !dir.includes(filter))) continue;
  console.log(`\n=== ${pkg.name}: ${pkg.scripts.bench}`);
  const r = spawnSync('npm', ['run', 'bench', '--silent', '-w', pkg.name], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
