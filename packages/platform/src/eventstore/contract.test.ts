import { PGlite } from '@electric-sql/pglite';
import { after } from 'node:test';
import { eventStoreContract } from '../testing/contract.js';
import { realInfra } from '../testing/infra.js';
import { kurrentEventStore } from './kurrentdb.js';
import { pgliteEventStore } from './pglite.js';
import { postgresEventStore } from './postgres.js';

// PGlite: one in-memory database for the run; "reopening" a category opens a new store on it.
const db = await PGlite.create();
after(() => db.close());
eventStoreContract('PGlite', (category) => pgliteEventStore(category, db));

const { infra, skip } = await realInfra();
eventStoreContract('PostgreSQL', (category) => postgresEventStore(infra!.databaseUrl, category), { skip });

const kurrent = process.env.KURRENTDB_URL;
eventStoreContract('KurrentDB', (category) => kurrentEventStore(kurrent!, category),
  { skip: kurrent ? undefined : 'KURRENTDB_URL is not set (no KurrentDB server can be installed on this machine)' });
