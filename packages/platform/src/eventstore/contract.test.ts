import { openPglite } from './pglite.js';
import { existsSync } from 'node:fs';
import { after } from 'node:test';
import { eventStoreContract } from '../testing/contract.js';
import { realInfra } from '../testing/infra.js';
import { kurrentEventStore } from './kurrentdb.js';
import { pgliteEventStore } from './pglite.js';
import { postgresEventStore } from './postgres.js';

// Probed first: PGlite's tests keep the event loop busy, which can time out the probe's connect.
const { infra, skip } = await realInfra();

// PGlite: one in-memory database for the run; "reopening" a category opens a new store on it.
const db = await openPglite();
after(() => db.close());
eventStoreContract('PGlite', (category) => pgliteEventStore(category, db));

eventStoreContract('PostgreSQL', (category) => postgresEventStore(infra!.databaseUrl, category), { skip });

/**
 * KurrentDB: the server at KURRENTDB_URL, else one started by `@testcontainers/kurrentdb` where a
 * Docker engine answers (image KURRENTDB_IMAGE, default kurrentplatform/kurrentdb:25.0), else skipped.
 * No run here has had either: the machines this was written on have neither a server nor Docker.
 */
async function kurrentForTests(): Promise<{ url?: string; skip?: string }> {
  if (process.env.KURRENTDB_URL) return { url: process.env.KURRENTDB_URL };
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) {
    return { skip: 'KURRENTDB_URL is not set and no Docker engine for @testcontainers/kurrentdb (neither exists on this machine)' };
  }
  try {
    const { KurrentDbContainer } = await import('@testcontainers/kurrentdb');
    const container = await new KurrentDbContainer(process.env.KURRENTDB_IMAGE ?? 'kurrentplatform/kurrentdb:25.0').start();
    after(() => container.stop());
    return { url: container.getConnectionString() };
  } catch (e) {
    return { skip: `a Docker engine is configured but the KurrentDB container did not start: ${(e as Error).message}` };
  }
}
const kurrent = await kurrentForTests();
eventStoreContract('KurrentDB', (category) => kurrentEventStore(kurrent.url!, category), { skip: kurrent.skip });
