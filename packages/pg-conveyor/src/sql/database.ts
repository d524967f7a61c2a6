/** What the server says about itself that matters to a queue: its migrations, and who holds back vacuum. */
import type { SqlExecutor } from './executor.js';

export interface SnapshotHolderRow {
  kind: 'session' | 'prepared';
  pid: number | null;
  since: Date;
  age_seconds: number;
  state: string | null;
  application_name: string | null;
  query: string | null;
}

/**
 * The open transaction (or prepared transaction) that started longest ago and still holds a
 * snapshot: while it lives, vacuum keeps every row version it might see, so the dead rows of
 * completed and deleted jobs pile up in job_queue (sessions of other databases do not hold back
 * this one's tables, and are left out). Other users' query texts are hidden from a
 * role without pg_read_all_stats; the pid and start time are not.
 */
export async function oldestSnapshotHolder(db: SqlExecutor): Promise<SnapshotHolderRow | undefined> {
  const [row] = await db.query<SnapshotHolderRow>(
    `SELECT kind, pid, since, extract(epoch FROM now() - since)::float8 AS age_seconds, state, application_name, query
       FROM (SELECT 'session' AS kind, pid, xact_start AS since, state, application_name, left(query, 200) AS query
               FROM pg_stat_activity
              WHERE backend_xmin IS NOT NULL AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
                AND datname = current_database()
             UNION ALL
             SELECT 'prepared', NULL, prepared, 'prepared', gid, NULL
               FROM pg_prepared_xacts WHERE database = current_database()) holders
      ORDER BY since
      LIMIT 1`,
    [],
    'conveyor.oldestSnapshotHolder',
  );
  return row;
}

/** The queue migrations recorded as applied, or null when the database has no record of any (never migrated). */
export async function appliedMigrationNames(db: SqlExecutor): Promise<string[] | null> {
  // Two statements: a query naming a table that does not exist fails when parsed, run or not.
  const [found] = await db.query<{ recorded: boolean }>(`SELECT to_regclass('conveyor_migrations') IS NOT NULL AS recorded`, []);
  if (!found?.recorded) return null;
  const rows = await db.query<{ name: string }>('SELECT name FROM conveyor_migrations ORDER BY name', []);
  return rows.map((row) => row.name);
}
