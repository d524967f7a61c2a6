/** pg-conveyor/testing, used as a user's test suite would use it. */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { DatabaseQueue, defineJob, jobHandlers, NonRetryableError, type Job } from 'pg-conveyor';
import { drainUntilEmpty, expectCompleted, expectEnqueued, freshDatabase, ManualClock } from 'pg-conveyor/testing';

let db: Awaited<ReturnType<typeof freshDatabase>>;
let queue: DatabaseQueue;
const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));

beforeAll(async () => {
  db = await freshDatabase(inject('adminUrl'), { prefix: 'conveyor_helpers' });
  queue = new DatabaseQueue({ connectionString: db.url, poolMax: 2, clock, rescueIntervalMs: 0 });
});
afterAll(async () => {
  await queue.close();
  await db.drop();
});

describe('pg-conveyor/testing', () => {
  it("freshDatabase: a database of its own with only the queue's tables, dropped by drop()", async () => {
    expect(db.name).toMatch(/^conveyor_helpers_[0-9a-f]{12}$/);
    expect(await queue.getQueueStats()).toMatchObject({ pending: 0, estimated: false });
    const other = await freshDatabase(inject('adminUrl'));
    await other.drop();
    const probe = new DatabaseQueue({ connectionString: other.url, poolMax: 1 });
    await expect(probe.getQueueStats()).rejects.toThrow(/does not exist/);
    await probe.close();
  });

  it('expectEnqueued finds jobs by type and payload contents; drainUntilEmpty runs follow-ups too; expectCompleted checks the result', async () => {
    await queue.enqueue({ jobType: 'SIGN_UP', payload: { email: 'ada@example.com', plan: 'pro' } });
    const [signUp] = await expectEnqueued<{ email: string }>(queue, { jobType: 'SIGN_UP', payload: { email: 'ada@example.com' } }, { count: 1 });
    const result = await drainUntilEmpty(queue, {
      SIGN_UP: async (job: Job<{ email: string }>, ctx) => {
        ctx.enqueueOnComplete({ jobType: 'WELCOME_EMAIL', payload: { to: job.payload!.email } });
        return { welcomed: true };
      },
      WELCOME_EMAIL: async (job: Job<{ to: string }>) => ({ sentTo: job.payload!.to }),
    });
    expect(result).toMatchObject({ completed: 2, failed: 0, stoppedBy: 'empty' });
    await expectCompleted(queue, signUp!, { welcomed: true });
    const [welcome] = await expectEnqueued(queue, { jobType: 'WELCOME_EMAIL', status: 'COMPLETED' });
    await expectCompleted(queue, welcome!.id, { sentTo: 'ada@example.com' });
  });

  it("drainUntilEmpty takes the Worker's registry: defined jobs and batch handlers", async () => {
    const greet = defineJob({ type: 'GREET', payload: z.object({ name: z.string() }), handler: async (job) => `hi ${job.payload.name}` });
    await queue.enqueueMany([greet.job({ name: 'ada' }), { jobType: 'TALLY', payload: { n: 1 } }, { jobType: 'TALLY', payload: { n: 2 } }]);
    const sizes: number[] = [];
    const result = await drainUntilEmpty(queue, {
      ...jobHandlers(greet),
      TALLY: { batch: { size: 10, handler: async (jobs) => void sizes.push(jobs.length) } },
    });
    expect(result).toMatchObject({ completed: 3, failed: 0, stoppedBy: 'empty' });
    expect(sizes).toEqual([2]);
    await expectCompleted(queue, (await expectEnqueued(queue, { jobType: 'GREET', status: 'COMPLETED' }))[0]!, 'hi ada');
  });

  it('the test clock moves delayed jobs and retry backoffs, in the library and in SQL, without waiting', async () => {
    await queue.enqueue({ jobType: 'LATER', delayMs: 3_600_000 });
    let calls = 0;
    const flaky = {
      LATER: async () => {
        calls++;
        if (calls === 1) throw new Error('first try fails');
        return 'ok';
      },
    };
    expect(await drainUntilEmpty(queue, flaky)).toMatchObject({ processed: 0 }); // not due for an hour
    clock.advance(3_600_000);
    expect(await drainUntilEmpty(queue, flaky)).toMatchObject({ failed: 1, completed: 0 }); // retried after its backoff
    const [retrying] = await expectEnqueued(queue, { jobType: 'LATER', status: 'PENDING' });
    expect(retrying!.runAt.getTime()).toBeGreaterThan(clock.now().getTime());
    clock.advance(24 * 3_600_000);
    expect(await drainUntilEmpty(queue, flaky)).toMatchObject({ completed: 1 });
    await expectCompleted(queue, retrying!, 'ok');
  });

  it('the assertions say what they found instead', async () => {
    await expect(expectEnqueued(queue, { jobType: 'NEVER_MADE' })).rejects.toThrow(
      /wanted at least 1 NEVER_MADE job\(s\), found 0; NEVER_MADE jobs there are: none/,
    );
    const failing = await queue.enqueue({ jobType: 'DOOMED', payload: { n: 1 } });
    await drainUntilEmpty(queue, {
      DOOMED: async () => {
        throw new NonRetryableError('no such account');
      },
    });
    await expect(expectCompleted(queue, failing)).rejects.toThrow(
      /is FAILED \(attempt 1\/3, payload \{"n":1\}, last error: NonRetryableError: no such account\)/,
    );
    await expect(expectEnqueued(queue, { jobType: 'DOOMED', payload: { n: 2 } })).rejects.toThrow(/found 0; DOOMED jobs there are: FAILED/);
    await expect(expectEnqueued(queue, { jobType: 'DOOMED' }, { count: 2 })).rejects.toThrow(/wanted 2 DOOMED/);
    await queue.enqueue({ jobType: 'LOOP' });
    await expect(
      drainUntilEmpty(
        queue,
        {
          LOOP: async (_job, ctx) => {
            ctx.enqueueOnComplete({ jobType: 'LOOP' });
          },
        },
        { maxJobs: 20 },
      ),
    ).rejects.toThrow(/still not empty after 20 jobs/);
  });
});
