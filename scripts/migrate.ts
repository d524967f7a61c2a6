/** `npm run db:migrate`: applies prisma/migrations to DATABASE_URL, or to the embedded database. */
import { resolveDatabaseUrl } from './db/local-postgres.mjs';
import { migrate } from '../src/lib/db/migrations';

const connectionString = await resolveDatabaseUrl();
const result = await migrate({ connectionString, log: (line) => console.log(`db:migrate: ${line}`) });
console.log(`db:migrate: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied`);
