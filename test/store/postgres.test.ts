import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { runStoreContract } from './store-contract.js';
import { runDataContract } from './store-contract-data.js';

const adminUrl = process.env.PARLEY_TEST_DATABASE_URL;

describe.skipIf(!adminUrl)('PostgreSQL store', () => {
  let url = '';
  const name = `parley_store_${process.pid}_${Date.now()}`;
  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(adminUrl as string);
    u.pathname = `/${name}`;
    url = u.toString();
  });
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  /** A store on the file's database, emptied afterwards. */
  async function factory() {
    const store = await PostgresStore.open({ url });
    return {
      store,
      cleanup: async () => {
        await store.pool.query('TRUNCATE users, conversations, members, messages, marker_moves RESTART IDENTITY CASCADE');
        await store.close();
      },
    };
  }

  runStoreContract('PostgreSQL', factory);
  runDataContract('PostgreSQL', factory);
});
