/**
 * The claim statement inside an open transaction (sql/jobs-write.ts): what it locks, seen from
 * another connection. The queue's own claims commit at once, so this needs the statement itself.
 */
import { describe, expect, it } from 'vitest';
import { toExecutor } from '../../src/sql/executor';
import { jobClaimAvailable } from '../../src/sql/jobs-write';
import { useQueue } from '../helpers/queue';

const t = useQueue();
const db = t.db;

describe('jobClaimAvailable', () => {
  it('locks only the rows it claims, though its text has a constant ceiling of 1,000', async () => {
    await t.queue.enqueueMany(Array.from({ length: 50 }, () => ({ jobType: 'L' })));
    const client = await db.current.pool.connect();
    try {
      await client.query('BEGIN');
      const claimed = await jobClaimAvailable(toExecutor(client), { types: ['L'], limit: 3, leaseMs: 60_000, workerId: 'w', now: null });
      expect(claimed).toHaveLength(3);
      // Seen from another connection while the claim's transaction is open: only those 3 are locked.
      const { rows } = await db.current.pool.query(
        `SELECT count(*)::int AS n FROM (SELECT id FROM job_queue WHERE job_type = 'L' FOR UPDATE SKIP LOCKED) free`,
      );
      expect(rows[0].n).toBe(47);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
