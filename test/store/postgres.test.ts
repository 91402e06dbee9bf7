import { afterAll, beforeAll, describe } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createDatabase, postgresOrSkip } from '../helpers/services.js';
import { runStoreContract } from './store-contract.js';
import { runDataContract } from './store-contract-data.js';

const adminUrl = postgresOrSkip();

describe.skipIf(!adminUrl)('PostgreSQL store', () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  beforeAll(async () => {
    db = await createDatabase(adminUrl as string);
  });
  afterAll(() => db?.drop());

  /** A store on the file's database, emptied afterwards. */
  async function factory() {
    const store = await PostgresStore.open({ url: db.url });
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
