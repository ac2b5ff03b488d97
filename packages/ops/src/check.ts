import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { kustomize, type K8sObject } from './kustomize.js';
import {
  checkAttestationWindow,
  checkClock,
  checkNamespaceAndNetwork,
  checkPodSecurity,
  checkProdInfrastructure,
  checkValidators,
  checkVoting,
} from './properties.js';
import { CrdValidator, isBuiltIn, validateBuiltIns, validateBuiltInSets } from './schemas.js';

/** The CRD schemas: ../shared/crds beside the checkout (or one level up), else the unmodified copies in deploy/crds (a clone elsewhere); EWX_CRD_DIR overrides. */
export function findCrdDir(repoRoot: string): string | undefined {
  if (process.env.EWX_CRD_DIR) return process.env.EWX_CRD_DIR;
  return [resolve(repoRoot, '../shared/crds'), resolve(repoRoot, '../../shared/crds'), resolve(repoRoot, 'deploy/crds')].find((d) => existsSync(d));
}

export const SERVICES = ['registry', 'voting', 'consensus', 'rewards', 'distance'] as const;

export type Profile = 'app' | 'infra' | 'full' | 'prod';

/** Checks several rendered sets with one tsc program. */
export function checkSets(sets: readonly (Rendered & { profile: Profile })[], crds: CrdValidator): string[] {
  const builtIn = validateBuiltInSets(sets.map((s) => ({ name: s.name, objects: s.objects.filter(isBuiltIn) })));
  return sets.flatMap((s) => checkObjects(s.name, s.objects, crds, s.profile, builtIn.get(s.name)));
}

export interface Rendered {
  readonly name: string;
  readonly objects: readonly K8sObject[];
}

/** Every check on one rendered set: schemas (built-in kinds via kubernetes-types, CRDs via their schemas), then the properties. */
export function checkObjects(name: string, objects: readonly K8sObject[], crds: CrdValidator, profile: Profile, builtInProblems?: readonly string[]): string[] {
  const problems: string[] = [];
  problems.push(...(builtInProblems ?? validateBuiltIns(objects.filter(isBuiltIn))));
  for (const o of objects.filter((x) => !isBuiltIn(x))) problems.push(...crds.validate(o));
  if (profile !== 'infra') {
    problems.push(
      ...checkPodSecurity(objects),
      ...checkValidators(objects),
      ...checkNamespaceAndNetwork(objects),
      ...checkVoting(objects),
      ...checkClock(objects),
      ...checkAttestationWindow(objects),
    );
  }
  if (profile === 'app' && objects.some((o) => o.kind === 'Secret'))
    problems.push("the base declares a Secret: keys come from the overlay's generator or secret store");
  if (profile === 'prod' || profile === 'full' || profile === 'infra') problems.push(...checkProdInfrastructure(objects, SERVICES, profile === 'prod'));
  if (profile === 'prod' && objects.some((o) => o.kind === 'Secret')) problems.push('prod declares a Secret object: keys come from the external secret store');
  return problems.map((p) => `${name}: ${p}`);
}

/**
 * An overlay of a (temporary) copy of deploy/k8s with a component added, as an operator enables one
 * (`components:` in the overlay's kustomization.yaml): rendered from a sibling folder `<overlay>+<component>`.
 */
export function overlayWith(work: string, overlay: string, component: string): string {
  const dir = join(work, `${overlay}+${component}`);
  cpSync(join(work, overlay), dir, { recursive: true });
  appendFileSync(join(dir, 'kustomization.yaml'), `components:\n  - ../../components/${component}\n`);
  return dir;
}

/**
 * Renders deploy/k8s's base, infra and both overlays (the overlays from a temporary copy given
 * throwaway keys by scripts/dev-secrets.mjs, as an operator would), and both overlays with
 * components/voting-replicas, and checks each.
 */
export function checkDeploy(repoRoot: string, crdDir: string | CrdValidator): { rendered: Rendered[]; problems: string[] } {
  const crds = typeof crdDir === 'string' ? new CrdValidator(crdDir) : crdDir;
  const work = mkdtempSync(join(tmpdir(), 'ewx-k8s-'));
  try {
    cpSync(resolve(repoRoot, 'deploy/k8s'), work, { recursive: true });
    const secrets = join(work, 'overlays/dev/secrets');
    const r = spawnSync(process.execPath, [resolve(repoRoot, 'scripts/dev-secrets.mjs'), secrets], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`dev-secrets: ${r.stderr}`);
    cpSync(join(secrets, 'network.env'), join(work, 'overlays/prod/network.env'));
    const rendered: Rendered[] = [
      { name: 'base', objects: kustomize(join(work, 'base')) },
      { name: 'infra', objects: kustomize(join(work, 'infra')) },
      { name: 'overlays/dev', objects: kustomize(join(work, 'overlays/dev')) },
      { name: 'overlays/prod', objects: kustomize(join(work, 'overlays/prod')) },
      { name: 'overlays/dev+voting-replicas', objects: kustomize(overlayWith(work, 'overlays/dev', 'voting-replicas')) },
      { name: 'overlays/prod+voting-replicas', objects: kustomize(overlayWith(work, 'overlays/prod', 'voting-replicas')) },
    ];
    const profile = {
      base: 'app',
      infra: 'infra',
      'overlays/dev': 'full',
      'overlays/prod': 'prod',
      'overlays/dev+voting-replicas': 'full',
      'overlays/prod+voting-replicas': 'prod',
    } as const;
    const problems = checkSets(
      rendered.map((x) => ({ ...x, profile: profile[x.name as keyof typeof profile] })),
      crds,
    );
    return { rendered, problems };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
