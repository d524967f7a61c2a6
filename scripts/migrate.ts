/**
 * `npm run db:migrate`: applies the queue's migrations (pg-conveyor) and then prisma/migrations to
 * DATABASE_URL, or to the embedded database.
 */
import { resolveDatabaseUrl } from './db/local-postgres.mjs';
import { migrate } from '../src/lib/db/migrations';

const connectionString = await resolveDatabaseUrl();
const result = await migrate({ connectionString, log: (line) => console.log(`db:migrate: ${line}`) });
const queue = result.queue!;
console.log(
  `db:migrate: queue ${queue.applied.length} applied, ${queue.alreadyApplied.length + queue.adopted.length} already there; ` +
    `app ${result.applied.length} applied, ${result.alreadyApplied.length} already applied`,
);
