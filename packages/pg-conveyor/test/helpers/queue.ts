/**
 * A test file's queue. `const t = useQueue()` gives the file a fresh database (a clone of the
 * queue-only template) and a DatabaseQueue on it, made before the file's tests and closed after
 * them; `t.makeQueue(options)` makes another on the same database (a clock, a backoff, a small
 * pool), closed at the end too. With `reset`, every test starts from empty queue tables.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { DatabaseQueue, type QueueOptionsInput } from 'pg-conveyor';
import { useTestDatabase, type TestDatabase } from './db';

type QueueOptions = Omit<QueueOptionsInput, 'connectionString' | 'pool'>;

/** Empties what a queue test writes: jobs, schedules, limits, pauses, counted history. */
export const RESET_QUEUE_SQL = `DELETE FROM job_queue; DELETE FROM job_schedules; DELETE FROM job_type_limits; DELETE FROM job_type_pauses; DELETE FROM job_bulk_actions; DELETE FROM drain_slots;
  DELETE FROM job_counts_minute; UPDATE job_counts_rollup SET through = date_trunc('minute', now()) - interval '7 days'`;

export interface TestQueue {
  /** The file's database: `db.current.pool` for direct SQL (insertJob, countJobs), `db.current.url`. */
  readonly db: { current: TestDatabase };
  /** The file's queue (available from beforeAll on). */
  readonly queue: DatabaseQueue;
  /** Another queue on the file's database, with its own options; closed after the file. */
  makeQueue(options?: QueueOptions & { pool?: QueueOptionsInput['pool'] }): DatabaseQueue;
  /** Empties the queue's tables now (what `reset: true` does before each test). */
  reset(): Promise<void>;
}

export function useQueue(options: QueueOptions & { reset?: boolean } = {}): TestQueue {
  const { reset, ...defaults } = options;
  const db = useTestDatabase();
  const made: DatabaseQueue[] = [];
  let main: DatabaseQueue | undefined;
  const makeQueue: TestQueue['makeQueue'] = (own = {}) => {
    const queue = own.pool
      ? new DatabaseQueue({ logger: false, ...defaults, ...own })
      : new DatabaseQueue({ connectionString: db.current.url, poolMax: 4, logger: false, ...defaults, ...own });
    made.push(queue);
    return queue;
  };
  const resetTables = async () => void (await db.current.pool.query(RESET_QUEUE_SQL));
  beforeAll(() => {
    main = makeQueue();
  });
  if (reset) beforeEach(resetTables);
  // Registered after the database's own afterAll, so it runs first: queues close before the drop.
  afterAll(async () => {
    await Promise.all(made.splice(0).map((queue) => queue.close()));
  });
  return {
    db,
    get queue() {
      if (!main) throw new Error('useQueue(): the queue exists from beforeAll on');
      return main;
    },
    makeQueue,
    reset: resetTables,
  };
}
