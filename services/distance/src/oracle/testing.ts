/**
 * Helpers for the oracle's tests and benchmark: small hand-built webs of trust and
 * the location of the recorded Ğ1 files.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildGraph, type WotGraph, type WotIdentity } from './wot.js';

/**
 * A web of trust from certifications written as [issuer, receiver] pairs. Ids
 * 0..size-1 in order; `members` lists the member ids (default: all).
 */
export function wotOf(size: number, certifications: readonly (readonly [number, number])[], members?: readonly number[]): WotGraph {
  const memberSet = new Set(members ?? Array.from({ length: size }, (_, i) => i));
  const identities: { id: number; member: boolean; certifiedBy: number[] }[] = [];
  for (let id = 0; id < size; id++) identities.push({ id, member: memberSet.has(id), certifiedBy: [] });
  for (const [issuer, receiver] of certifications) identities[receiver].certifiedBy.push(issuer);
  return buildGraph(identities satisfies WotIdentity[]);
}

/**
 * Path of a file of the shared data set (g1-wot.json, g1-genesis-wot.json), or
 * undefined when this checkout does not have it. Looked for in $EWX_WOT_DATA_DIR,
 * then shared/data/ in or beside the repository root, then /work/shared/data/.
 * With EWX_REQUIRE_INFRA=1 (CI) a missing file throws, so its tests fail instead of skipping.
 */
export function wotDataFile(name: string): string | undefined {
  // This file sits at services/distance/{src,dist}/oracle/, four levels below the root.
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const dirs = [process.env.EWX_WOT_DATA_DIR, `${root}shared/data`, `${root}../shared/data`, '/work/shared/data'];
  for (const dir of dirs) {
    if (dir !== undefined && dir !== '' && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  // In CI the tests that need the data must run: a missing file fails them instead of skipping them.
  if (process.env.EWX_REQUIRE_INFRA === '1') {
    throw new Error(`EWX_REQUIRE_INFRA=1 but the shared data file ${name} is not in any of ${dirs.filter((d) => d).join(', ')} (set EWX_WOT_DATA_DIR)`);
  }
  return undefined;
}

/** A deterministic pseudo-random generator (mulberry32), so failures replay. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
