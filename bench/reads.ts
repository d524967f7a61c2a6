/**
 * Reads at scale: the admin page and /api/metrics call these every few seconds, so they must stay
 * cheap on a table of a million jobs, most of them finished, as a long-lived queue's table is.
 */
import pg from 'pg';
import { DatabaseQueue } from 'pg-conveyor';
import { timed } from './bench-db';

export interface ReadTiming {
  name: string;
  ms: number;
}

/** A million-job history: 1 % PENDING, 0.1 % PROCESSING, 4 % FAILED, some CANCELLED, the rest COMPLETED over a week. */
async function loadHistory(pool: pg.Pool, rows: number): Promise<void> {
  await pool.query('TRUNCATE job_queue');
  await pool.query(
    `INSERT INTO job_queue (job_type, status, attempts, payload, result, started_at, completed_at, locked_until)
     SELECT (ARRAY['INGEST_DATA', 'VECTORIZE', 'EMAIL'])[1 + g % 3],
            s.status::"JobStatus",
            CASE WHEN s.status = 'PENDING' THEN 0 ELSE 1 END,
            CASE WHEN s.status IN ('PENDING', 'PROCESSING') THEN '{"n":1}'::jsonb END,
            CASE WHEN s.status = 'COMPLETED' THEN '{"ok":true}'::jsonb END,
            CASE WHEN s.status <> 'PENDING' THEN now() END,
            CASE WHEN s.status IN ('COMPLETED', 'FAILED', 'CANCELLED') THEN now() - (g % 10080) * interval '1 minute' END,
            CASE WHEN s.status = 'PROCESSING' THEN now() + interval '5 minutes' END
       FROM generate_series(1, $1) g,
            LATERAL (SELECT CASE WHEN g % 100 = 0 THEN 'PENDING' WHEN g % 1000 = 1 THEN 'PROCESSING'
                                 WHEN g % 25 = 0 THEN 'FAILED' WHEN g % 500 = 3 THEN 'CANCELLED' ELSE 'COMPLETED' END AS status) s`,
    [rows],
  );
  await pool.query('VACUUM ANALYZE job_queue');
}

/** Median time of each read on a `rows`-job history. */
export async function readsAt(url: string, pool: pg.Pool, rows: number): Promise<ReadTiming[]> {
  await loadHistory(pool, rows);
  const queue = new DatabaseQueue({ connectionString: url, poolMax: 1 });
  const timings: ReadTiming[] = [];
  const median = async (name: string, fn: () => Promise<unknown>, runs = 15) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await timed(fn));
    times.sort((a, b) => a - b);
    timings.push({ name, ms: times[Math.floor(times.length / 2)]! * 1000 });
  };
  try {
    await median('getQueueStats()', () => queue.getQueueStats());
    await median('getQueueStats({ exact: true })', () => queue.getQueueStats({ exact: true }), 3);
    await median('oldestPendingJob()', () => queue.oldestPendingJob());
    await median('listJobs({ limit: 20 })', () => queue.listJobs({ limit: 20 }));
    await median('listFailedJobs({ limit: 25 })', () => queue.console.listFailedJobs({ limit: 25 }));
    await median('countActiveByType()', () => queue.countActiveByType());
    await median('getThroughput(60)', () => queue.console.getThroughput(60));
    await median("getHistory({ range: '7d' })", () => queue.console.getHistory({ range: '7d' }));
    await median('typeStats()', () => queue.console.typeStats());
    await median('listSchedules()', () => queue.schedules.list());
    await median('pausedTypes()', () => queue.pausedTypes());
    // The console's search, dry-run count and one bulk batch: each reads a bounded window.
    const [newest] = await queue.listJobs({ limit: 1 });
    await median('findJobs({}) first page of 50', () => queue.console.findJobs({}));
    await median('findJobs({ id: 13-character prefix })', () => queue.console.findJobs({ id: newest!.id.slice(0, 13) }));
    await median('findJobs({ payload path, no match }) one window', () => queue.console.findJobs({ payload: { path: ['customerId'], equals: 42 } }));
    await median('findJobs({ error text, no match }) one window', () => queue.console.findJobs({ error: 'connection reset' }));
    await median('findJobs({ EMAIL, FAILED }) dead letters', () => queue.console.findJobs({ jobType: 'EMAIL', status: 'FAILED' }));
    await median('countJobs({ EMAIL, FAILED }) (13,333)', () => queue.console.countJobs({ jobType: 'EMAIL', status: 'FAILED' }));
    await median('countJobs({ EMAIL }) to its 100 ms budget', () => queue.console.countJobs({ jobType: 'EMAIL' }), 5);
    await median(
      'bulk batch (2,000 rows read, none matching)',
      () => queue.console.startBulkAction({ action: 'delete', filter: { payload: { path: ['nope'], equals: 1 } }, budgetMs: 1 }),
      5,
    );
  } finally {
    await queue.close();
  }
  return timings;
}
