import Database from 'better-sqlite3';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { TestServer } from './server.js';

/**
 * A real failure inside the server's database (not a mock): from now on, the
 * insert of a message whose content is `content` aborts its transaction.
 * Answers the function that lifts it.
 */
export async function failInsertsOf(server: TestServer, content: string): Promise<() => Promise<void>> {
  const store = server.app.store;
  if (store instanceof PostgresStore) {
    const literal = `'${content.replaceAll("'", "''")}'`;
    await store.pool.query(`
      CREATE FUNCTION test_fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.content = ${literal} THEN RAISE EXCEPTION 'forced failure'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_fail_insert BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION test_fail_insert();`);
    return async () => {
      await store.pool.query('DROP TRIGGER test_fail_insert ON messages; DROP FUNCTION test_fail_insert();');
    };
  }
  const writer = new Database(server.config.dbPath);
  // (A trigger's text cannot take a bound parameter: the content goes in as a quoted literal.)
  writer.exec(`CREATE TRIGGER test_fail_insert BEFORE INSERT ON messages WHEN NEW.content = '${content.replaceAll("'", "''")}'
               BEGIN SELECT RAISE(ABORT, 'forced failure'); END`);
  return async () => {
    writer.exec('DROP TRIGGER test_fail_insert');
    writer.close();
  };
}
