/** The demo app's template database: the queue's migrations, then the app's own (prisma/migrations). */
import { migrate, readMigrations } from '../../src/lib/db/migrations';
import { queueMigrations } from 'pg-conveyor';
import { ensureTemplateDatabase as ensure, withDatabase } from '../../packages/pg-conveyor/test/setup/template-db';

export { withDatabase };

export async function ensureTemplateDatabase(adminUrl: string): Promise<string> {
  return ensure(adminUrl, {
    prefix: 'conveyor_template',
    migrations: [...queueMigrations(), ...(await readMigrations())],
    migrate: (url) => migrate({ connectionString: url }),
  });
}
