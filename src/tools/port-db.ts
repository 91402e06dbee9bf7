/**
 * `npm run port-db -- --from ./data/parley.db --to postgres://user:password@host:5432/parley`
 * (built: `node dist/tools/port-db.js ...`). Copies a stopped SQLite
 * deployment into an empty PostgreSQL database; see src/store/port-sqlite-to-postgres.ts
 * and docs/operations.md, "Moving from SQLite to PostgreSQL".
 *
 * Exit status: 0 copied; 1 refused or failed (nothing committed); 2 usage.
 */
import { parseArgs } from 'node:util';
import { portSqliteToPostgres, PortRefused } from '../store/port-sqlite-to-postgres.js';

const USAGE = `usage: npm run port-db -- --from <sqlite file> [--to <postgres url>]

Copies a Parley SQLite database (the server stopped) into an empty PostgreSQL
database, in one transaction. --to defaults to $DATABASE_URL.

  --from <file>   the SQLite database, e.g. ./data/parley.db
  --to <url>      postgres://user:password@host:port/database (empty)
  --batch-size n  rows per INSERT (default 1000)
  -h, --help      this text`;

async function main(): Promise<number> {
  let values: { from?: string; to?: string; 'batch-size'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        'batch-size': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const to = values.to ?? process.env.DATABASE_URL ?? '';
  const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
  const problems: string[] = [];
  if (!values.from) problems.push('--from is required');
  if (!to) problems.push('--to is required (or set DATABASE_URL)');
  else if (!/^postgres(ql)?:\/\/\S+$/.test(to)) problems.push('--to must be a postgres:// URL');
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize > 0)) problems.push('--batch-size must be a positive whole number');
  if (problems.length) {
    console.error(`${problems.join('; ')}\n\n${USAGE}`);
    return 2;
  }
  try {
    await portSqliteToPostgres({
      sqliteFile: values.from as string,
      postgresUrl: to,
      batchSize,
      log: (line) => console.log(line),
    });
    return 0;
  } catch (e) {
    if (e instanceof PortRefused) console.error(`refused: ${e.message}`);
    else {
      const err = e as { message?: string; code?: string };
      console.error(`failed (nothing was committed): ${err?.message || err?.code || String(e)}`);
    }
    return 1;
  }
}

process.exitCode = await main();
