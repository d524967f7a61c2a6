/**
 * The counted history of finished jobs (sql/job-counts.ts) is brought up to date here: before the
 * console reads it, and before cleanup deletes the rows it is counted from.
 */
import { inTransaction, toExecutor, type SqlExecutor } from '../sql/executor.js';
import { jobCountsLock, jobCountsRollUp } from '../sql/job-counts.js';
import type { QueueCore } from './queue-core.js';

/**
 * Counts what finished up to the start of the minute before now (a completion still committing is
 * never skipped) and answers where the count now stands. Cheap when it ran lately; called before
 * the history is read and before cleanup.
 */
export async function rollUpCounts(core: QueueCore): Promise<{ through: Date; now: number }> {
  return inTransaction(core.pool, async (client) => {
    const db = toExecutor(client, { prepare: core.prepare });
    const through = await jobCountsLock(db);
    // On the transaction's own connection: with a pool of one, asking the pool would wait forever.
    const now = await dbNow(core, db);
    const upto = new Date(Math.floor(now / 60_000) * 60_000 - 60_000);
    if (upto <= through) return { through, now };
    await jobCountsRollUp(db, { since: through, upto });
    return { through: upto, now };
  });
}

/** The database's time (on `db`), or the test clock's. */
async function dbNow(core: QueueCore, db: SqlExecutor): Promise<number> {
  if (core.clock) return core.clock.now().getTime();
  const [row] = await db.query<{ now: Date }>('SELECT now() AS now', [], 'conveyor.now');
  return row!.now.getTime();
}
