import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { probeHealth } from '@ewx/platform';
import { freePort, REPO_ROOT, waitFor } from '@ewx/platform/testing';
import { envOf, lintDockerfile, parseDockerfile } from './dockerfile.js';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

describe('Dockerfile lint', () => {
  test('the Dockerfile passes dockerfile-utils and the project rules', () => {
    assert.deepEqual(lintDockerfile(dockerfile), []);
  });

  /** Planted mistakes: the real Dockerfile with one thing wrong each. */
  const planted: [string, (d: string) => string, RegExp][] = [
    ['base by tag', (d) => d.replace(/@sha256:[0-9a-f]{64}/, ''), /pin the base image by digest/],
    ['no USER', (d) => d.replace(/^USER .*$/m, ''), /no USER/],
    ['USER root', (d) => d.replace(/^USER .*$/m, 'USER root'), /numeric non-root uid:gid/],
    ['no HEALTHCHECK', (d) => d.replace(/^HEALTHCHECK[^\n]*\\\n[^\n]*\n/m, ''), /no HEALTHCHECK/],
    ['GRPC_HOST on loopback', (d) => d.replace('GRPC_HOST=0.0.0.0', 'GRPC_HOST=127.0.0.1'), /GRPC_HOST=0\.0\.0\.0/],
    ['shell-form CMD', (d) => d.replace('CMD ["embedded"]', 'CMD embedded'), /CMD in exec form/],
    ['one stage', (d) => d.replace(/^FROM \$\{NODE_IMAGE\} AS build[\s\S]*?(?=^FROM)/m, ''), /multi-stage/],
    ['data folder not chowned', (d) => d.replace(/ \\\n && chown 10001:10001 \/data/, ''), /VOLUME \/data: not chowned to the runtime user 10001/],
    [
      'sources copied into the runtime stage',
      (d) => d.replace('COPY --from=build --chown=0:0 /app /app', 'COPY --from=build --chown=0:0 /app /app\nCOPY . /app'),
      /copies built files from the build stage only/,
    ],
    ['code owned by the app user', (d) => d.replace('--chown=0:0', '--chown=10001:10001'), /COPY --chown=0:0/],
    ['an unknown instruction', (d) => d.replace('WORKDIR /app', 'WORKDIR /app\nRUNN true'), /line \d+: /],
  ];
  for (const [what, mutate, problem] of planted) {
    test(`a planted mistake fails: ${what}`, () => {
      const bad = mutate(dockerfile);
      assert.notEqual(bad, dockerfile, 'the mutation applies');
      const problems = lintDockerfile(bad);
      assert.ok(
        problems.some((p) => problem.test(p)),
        `expected ${problem} among ${JSON.stringify(problems)}`,
      );
    });
  }
});

/**
 * No engine can build or run the image here, so the test rebuilds its runtime layout by the
 * Dockerfile's own definitions: /app from scripts/image-layout.mjs (what the build stage runs),
 * owned by root as COPY --chown sets it; the data folder made and chowned as the RUN line does; the
 * process run as the Dockerfile's USER with exactly its ENV, WORKDIR, ENTRYPOINT and CMD (paths /app
 * and /data mapped into a temporary folder, ports moved to free ones), until its HEALTHCHECK passes.
 */
describe('image runtime layout', () => {
  const { stages } = parseDockerfile(dockerfile);
  const build = stages[0]!;
  const final = stages.at(-1)!;
  const root = mkdtempSync(join(tmpdir(), 'ewx-image-'));
  chmodSync(root, 0o755);
  const app = join(root, 'app');
  const data = join(root, 'data');
  after(() => rmSync(root, { recursive: true, force: true }));

  const user = final.steps.filter((s) => s.keyword === 'USER').at(-1)!.text;
  const [uid, gid] = user.split(':').map(Number) as [number, number];
  const isRoot = process.getuid?.() === 0;
  const map = (s: string): string => s.replace(/^\/app(?=\/|$)/, app).replace(/^\/data(?=\/|$)/, data);
  /** argv prefix that runs a command as the image's user (setpriv, from util-linux, when the tests run as root). */
  const asUser = (argv: string[]): [string, string[]] =>
    isRoot ? ['setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', ...argv]] : [argv[0]!, argv.slice(1)];
  const node = (argv: readonly string[]): string[] => argv.map((a, i) => (i === 0 && a === 'node' ? process.execPath : map(a)));

  test('the Dockerfile builds /app with scripts/image-layout.mjs and copies it as root', () => {
    assert.ok(
      build.steps.some((s) => s.keyword === 'RUN' && /node scripts\/image-layout\.mjs \/app(\s|$)/.test(s.text)),
      'build stage runs image-layout.mjs /app',
    );
    const copy = final.steps.filter((s) => s.keyword === 'COPY');
    assert.equal(copy.length, 1, 'the runtime stage copies one thing');
    assert.equal(copy[0]!.flags.from, build.name);
    assert.equal(copy[0]!.flags.chown, '0:0');
    assert.equal(copy[0]!.text, '/app /app');
    assert.ok(uid > 0 && gid > 0, `USER ${user} is not root`);
  });

  test('stage /app: built code and production packages only, owned by root, read-only to the app user', async () => {
    const { stageImage } = (await import(join(REPO_ROOT, 'scripts/image-layout.mjs'))) as { stageImage(dest: string, root: string): { packages: number } };
    const r = stageImage(app, REPO_ROOT);
    assert.ok(r.packages > 10);
    const all: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        all.push(p);
        if (e.isDirectory()) walk(p);
      }
    };
    walk(app);
    const rel = all.map((p) => p.slice(app.length + 1));
    assert.deepEqual(
      rel.filter((p) => /\.test\.js$|\/testing\/|\.ts$|\.map$/.test(p) && !p.startsWith('node_modules/')),
      [],
      'no tests, test helpers, sources or maps',
    );
    // @ewx/client is in: the dashboard component reads the services through it. Its bundler and chart library are not.
    for (const dev of [
      'typescript',
      'tsx',
      'esbuild',
      'fast-check',
      'ts-proto',
      'yaml',
      'ajv',
      'dockerfile-utils',
      'kubernetes-types',
      '@ewx/cli',
      '@ewx/ops',
      'uplot',
      'playwright-core',
    ]) {
      assert.ok(!existsSync(join(app, 'node_modules', dev)), `dev package ${dev} is not in the image`);
    }
    assert.ok(existsSync(join(app, 'proto/ewx/v1/registry.proto')), 'proto files for reflection');
    assert.ok(existsSync(join(app, 'packages/embedded/dist/launch.js')));
    assert.ok(existsSync(join(app, 'packages/dashboard/dist/web/main.js')), 'the dashboard page, bundled');
    if (isRoot) {
      // COPY --chown=0:0: everything root's; the app user cannot write anywhere in /app.
      for (const p of [app, ...all]) chownSync(p, 0, 0);
      const w = spawnSync(...asUser([process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(join(app, 'packages/platform/dist/x.js'))}, '')`]));
      assert.notEqual(w.status, 0, 'the app user cannot change the code');
      assert.match(w.stderr.toString(), /EACCES/);
    }
    // RUN mkdir -p /data && chown U:G /data && chmod 0700 /data
    const run = final.steps.find((s) => s.keyword === 'RUN' && /chown/.test(s.text))!;
    const [, cu, cg, path] = /chown (\d+):(\d+) (\S+)/.exec(run.text)!;
    const mode = /chmod (\d+) (\S+)/.exec(run.text)!;
    assert.equal(path, '/data');
    mkdirSync(map(path), { recursive: true });
    if (isRoot) chownSync(map(path), Number(cu), Number(cg));
    chmodSync(map(mode[2]!), parseInt(mode[1]!, 8));
  });

  const env = (over: Record<string, string>): Record<string, string> => {
    const e: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/nonexistent' };
    for (const [k, v] of Object.entries(envOf(final))) e[k] = map(v);
    return { ...e, ...over };
  };
  const entrypoint = final.steps.filter((s) => s.keyword === 'ENTRYPOINT').at(-1)!.exec!;
  const cmd = final.steps.filter((s) => s.keyword === 'CMD').at(-1)!.exec!;
  const healthcheck = final.steps.filter((s) => s.keyword === 'HEALTHCHECK').at(-1)!.exec!;
  const workdir = map(final.steps.filter((s) => s.keyword === 'WORKDIR').at(-1)!.text);

  test('each component is chosen by the argument; a bad configuration exits naming the variable', () => {
    for (const [arg, variable] of [
      ['registry', 'KAFKA_BROKERS'],
      ['consensus', 'KAFKA_BROKERS'],
      ['evaluator', 'EVALUATOR_KEY'],
    ] as const) {
      const r = spawnSync(...asUser(node([...entrypoint, arg])), { cwd: workdir, env: env({}), timeout: 60_000 });
      assert.equal(r.status, 1, `${arg}: ${r.stderr}`);
      assert.match(r.stderr.toString(), new RegExp(`configuration ${variable}`));
    }
    const bad = spawnSync(...asUser(node([...entrypoint, 'nonsense'])), { cwd: workdir, env: env({}) });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr.toString(), /usage: launch\.js \[embedded\|registry/);
  });

  test('the default command, as the unprivileged user, reaches SERVING and passes the HEALTHCHECK', async () => {
    const grpcPort = await freePort();
    const healthPort = await freePort();
    const e = env({ GRPC_PORT: String(grpcPort), GRPC_HEALTH_PORT: String(healthPort), BLOCK_TIME_MS: 'manual' });
    const check = (): number | null => spawnSync(...asUser(node(healthcheck)), { cwd: workdir, env: e, timeout: 30_000 }).status;
    assert.equal(check(), 1, 'HEALTHCHECK fails while nothing runs');
    const [cmd0, args] = asUser(node([...entrypoint, ...cmd]));
    const child = spawn(cmd0, args, { cwd: workdir, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitFor(
        'the image default command to serve',
        async () => {
          if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${out.slice(-2000)}`);
          return (await probeHealth(`127.0.0.1:${grpcPort}`, 'ewx.v1.Registry', 2000)) === 'SERVING' ? true : undefined;
        },
        180_000,
        250,
      );
      assert.equal(check(), 0, `HEALTHCHECK passes: ${out.slice(-1000)}`);
      // Bound to every interface (GRPC_HOST=0.0.0.0), and the data went to the data folder, as the user.
      assert.match(out, /listening on 0\.0\.0\.0:/);
      const files = readdirSync(join(data, 'embedded'));
      assert.ok(files.includes('pglite') && files.includes('admin.key'), files.join(','));
      if (isRoot) assert.equal(statSync(join(data, 'embedded', 'admin.key')).uid, uid);
      // setpriv execs node in place: the child's pid is the server's.
      const ps = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      assert.match(ps, new RegExp(`\\nUid:\\s+${isRoot ? uid : process.getuid!()}\\s`));
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, 'SIGTERM stops it cleanly');
    assert.equal(check(), 1, 'HEALTHCHECK fails once stopped');
  });
});
