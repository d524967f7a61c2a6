/**
 * What to do when the database is not what the queue needs: an unreachable server, a refused
 * login, a missing database, tables not migrated to this version. The Worker checks at start()
 * (so it never reports "started" against a database it cannot use), and any caller may ask
 * (`queue.checkDatabase()`, a health check or a deploy step).
 */
import { ConfigError } from './errors.js';
import { queueMigrations } from '../sql/migrate.js';
import { appliedMigrationNames } from '../sql/database.js';
import type { SqlExecutor } from '../sql/executor.js';

const MIGRATE = 'run `npx conveyor migrate` (or apply migrationSql() with your own tool)';

/** Throws a ConfigError naming the problem and the fix; resolves when the queue can work. */
export async function checkDatabase(db: SqlExecutor, where: string | undefined): Promise<void> {
  let applied: string[] | null;
  try {
    applied = await appliedMigrationNames(db);
  } catch (error) {
    throw explainDatabaseError(error, where);
  }
  if (applied === null) throw new ConfigError(`The database has no Conveyor tables: ${MIGRATE}`);
  const missing = queueMigrations()
    .map((m) => m.name)
    .filter((name) => !applied.includes(name));
  if (missing.length > 0) {
    throw new ConfigError(`The database is behind this version of pg-conveyor (${missing.length} migration(s) not applied: ${missing.join(', ')}): ${MIGRATE}`);
  }
}

/**
 * A connection or schema error from pg as a ConfigError that says what to do, keeping the
 * original as its cause; other errors are returned as they are. `where` is the connection string,
 * of which only host, port, user and database are ever shown.
 */
export function explainDatabaseError(error: unknown, where: string | undefined): unknown {
  const e = error as { code?: string; message?: string } | null;
  const at = describeTarget(where);
  const explain = (message: string) => new ConfigError(message, { cause: error });
  switch (e?.code) {
    case 'ECONNREFUSED':
      return explain(
        `Cannot connect to PostgreSQL${at.server} (connection refused): is the server running, and are the host and port in the connection string right?`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return explain(`Cannot resolve the database host${at.host}: check the host in the connection string (postgresql://user:password@host:5432/database)`);
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return explain(`Cannot reach PostgreSQL${at.server} (${e.code}): check the host, the port and the network (firewall, VPC, allowed IPs)`);
    case '28P01':
    case '28000':
      return explain(`PostgreSQL refused the login${at.user}: check the user and password in the connection string (${e.message})`);
    case '3D000':
      return explain(`${e.message}: create it (createdb) or fix the database name in the connection string`);
    case '42P01':
    case '42703':
      return explain(`${e.message}: the database is not migrated for this version of pg-conveyor: ${MIGRATE}`);
    default:
      return error;
  }
}

function describeTarget(where: string | undefined): { server: string; host: string; user: string } {
  try {
    const url = new URL(where ?? '');
    const server = `${url.hostname}${url.port ? `:${url.port}` : ''}`;
    return {
      server: server ? ` at ${server}` : '',
      host: url.hostname ? ` "${url.hostname}"` : '',
      user: url.username ? ` for user "${decodeURIComponent(url.username)}"` : '',
    };
  } catch {
    return { server: '', host: '', user: '' };
  }
}
