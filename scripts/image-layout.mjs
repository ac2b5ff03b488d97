#!/usr/bin/env node
// Assembles the container image's /app from a built checkout: the runtime workspaces' package.json
// and compiled code (no tests, no test helpers, no maps or declarations), the .proto files (served
// by reflection), and exactly the packages those workspaces need at run time, found by walking
// package-lock.json from them the way Node resolves (so dev tools and the CLI's dependencies stay out).
// The Dockerfile's build stage runs it, and so does the image-layout test: one definition of the image.
// Usage: node scripts/image-layout.mjs <destination> [<built checkout, default: this repository>]
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspaces the image runs: the five services, the embedded mode and launcher, and their kit. */
export const RUNTIME_WORKSPACES = [
  'packages/platform',
  'packages/proto',
  'packages/contracts',
  'services/registry',
  'services/voting',
  'services/consensus',
  'services/rewards',
  'services/distance',
  'packages/embedded',
  'packages/client',
  'packages/dashboard',
  'packages/audit',
];

/** Compiled files left out of the image: tests, test helpers, benchmarks, maps, declarations. */
export const excludedBuildFile = (rel) =>
  /\.test\.(js|d\.ts)(\.map)?$/.test(rel) || /\.(map|d\.ts)$/.test(rel) || /(^|\/)testing\//.test(rel) || /\.tsbuildinfo$/.test(rel);

const parentOf = (key) => {
  const i = key.lastIndexOf('/node_modules/');
  return i >= 0 ? key.slice(0, i) : '';
};

/** Lock keys (node_modules/… entries and workspace folders) reachable from the runtime workspaces. */
export function runtimeClosure(lock, workspaces = RUNTIME_WORKSPACES) {
  const pkgs = lock.packages;
  // Node's lookup: <from>/node_modules/<name>, then each enclosing node_modules up to the root.
  const resolveDep = (from, name) => {
    for (let base = from; ; base = parentOf(base)) {
      const key = `${base ? `${base}/` : ''}node_modules/${name}`;
      if (pkgs[key]) return key;
      if (base === '') return undefined;
    }
  };
  const seen = new Set();
  const links = new Map();
  const visit = (key) => {
    if (seen.has(key)) return;
    const entry = pkgs[key];
    if (!entry) throw new Error(`package-lock.json has no entry ${key}`);
    if (entry.link) {
      if (!workspaces.includes(entry.resolved)) throw new Error(`${key} links to ${entry.resolved}, which is not a runtime workspace`);
      links.set(key, entry.resolved);
      seen.add(key);
      visit(entry.resolved);
      return;
    }
    seen.add(key);
    const required = { ...entry.dependencies, ...entry.optionalDependencies };
    for (const [name, meta] of Object.entries(entry.peerDependencies ?? {})) if (!entry.peerDependenciesMeta?.[name]?.optional) required[name] = meta;
    for (const name of Object.keys(required)) {
      const dep = resolveDep(key, name);
      if (dep === undefined) {
        if (entry.optionalDependencies?.[name] !== undefined || entry.peerDependencies?.[name] !== undefined) continue;
        throw new Error(`${key} needs ${name}, which package-lock.json does not resolve`);
      }
      visit(dep);
    }
  };
  for (const w of workspaces) visit(w);
  const packages = [...seen].filter((k) => k.includes('node_modules/') && !links.has(k));
  return { packages: packages.sort(), links };
}

const copyTree = (src, dst, skip) => {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) {
    mkdirSync(dirname(dst), { recursive: true, mode: 0o755 });
    symlinkSync(readlinkSync(src), dst);
  } else if (st.isDirectory()) {
    mkdirSync(dst, { recursive: true, mode: 0o755 });
    chmodSync(dst, 0o755);
    for (const e of readdirSync(src)) {
      const s = join(src, e);
      if (skip(s)) continue;
      copyTree(s, join(dst, e), skip);
    }
  } else if (st.isFile()) {
    mkdirSync(dirname(dst), { recursive: true, mode: 0o755 });
    copyFileSync(src, dst);
    // Readable by anyone, writable by nobody but the owner (root in the image): the app cannot change its code.
    chmodSync(dst, st.mode & 0o111 ? 0o755 : 0o644);
  }
};

export function stageImage(dest, root = resolve(dirname(fileURLToPath(import.meta.url)), '..')) {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const { packages, links } = runtimeClosure(lock);
  mkdirSync(dest, { recursive: true, mode: 0o755 });
  chmodSync(dest, 0o755);
  const files = [];
  for (const w of RUNTIME_WORKSPACES) {
    const dist = join(root, w, 'dist');
    if (!existsSync(dist)) throw new Error(`${w}/dist is missing: build first (npx tsc -b)`);
    copyTree(join(root, w, 'package.json'), join(dest, w, 'package.json'), () => false);
    copyTree(dist, join(dest, w, 'dist'), (p) => lstatSync(p).isFile() && excludedBuildFile(relative(dist, p)));
    if (existsSync(join(root, w, 'bin'))) copyTree(join(root, w, 'bin'), join(dest, w, 'bin'), () => false);
    files.push(w);
  }
  copyTree(join(root, 'proto'), join(dest, 'proto'), () => false);
  let missingOptional = 0;
  for (const key of packages) {
    const src = join(root, key);
    if (!existsSync(src)) {
      // Optional packages for other platforms (e.g. musl builds) are in the lock but not installed.
      if (lock.packages[key].optional || lock.packages[key].devOptional) {
        missingOptional++;
        continue;
      }
      throw new Error(`${key} is in the runtime closure but not installed: run npm ci`);
    }
    // Nested node_modules are entries of their own in the lock (copied only if reachable).
    copyTree(src, join(dest, key), (p) => p === join(src, 'node_modules'));
  }
  for (const [key, target] of links) {
    const at = join(dest, key);
    mkdirSync(dirname(at), { recursive: true, mode: 0o755 });
    symlinkSync(relative(dirname(at), join(dest, target)), at);
  }
  return { workspaces: files, packages: packages.length, links: links.size, missingOptional };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dest, root] = process.argv.slice(2);
  if (!dest) {
    process.stderr.write('usage: node scripts/image-layout.mjs <destination> [<built checkout>]\n');
    process.exit(2);
  }
  if (existsSync(dest) && readdirSync(dest).length > 0) {
    process.stderr.write(`image-layout: ${dest} is not empty\n`);
    process.exit(2);
  }
  const r = stageImage(resolve(dest), root ? resolve(root) : undefined);
  process.stdout.write(
    `image-layout: ${r.workspaces.length} workspaces, ${r.packages} packages, ${r.links} workspace links into ${dest}` +
      `${r.missingOptional ? ` (${r.missingOptional} optional packages for other platforms not installed)` : ''}\n`,
  );
}
