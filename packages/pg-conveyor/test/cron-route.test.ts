/** The package's cron route (pg-conveyor/next), as a user's app would mount it. */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseQueue, ValidationError, type Job } from 'pg-conveyor';
import { cronRoute } from 'pg-conveyor/next';
import { useQueue } from './helpers/queue';
import { countJobs } from './helpers/jobs';

const t = useQueue({ reset: true });
const db = t.db;
const env = process.env as Record<string, string | undefined>;
const SECRET = 'a-cron-secret-of-at-least-32-characters';

beforeEach(async () => {
  env.CRON_SECRET = SECRET;
});
afterAll(async () => {
  delete env.CRON_SECRET;
});

const call = (route: (r: Request) => Promise<Response>, secret?: string) =>
  route(new Request('http://localhost/api/cron', { headers: secret === undefined ? {} : { authorization: `Bearer ${secret}` } }));

describe('cronRoute', () => {
  it("drains each handler's own type with its handler, up to maxJobs, and answers the result", async () => {
    const seen: string[] = [];
    const results: unknown[] = [];
    const GET = cronRoute({
      queue: () => t.queue,
      handlers: {
        EMAIL: async (job: Job<{ to: string }>) => {
          seen.push(`email:${job.payload!.to}`);
          return { sent: true };
        },
        SMS: async (job: Job<{ to: string }>) => {
          seen.push(`sms:${job.payload!.to}`);
          return { texted: true };
        },
      },
      maxJobs: 3,
      onResult: (result) => {
        results.push(result);
      },
    });
    await t.queue.enqueueMany([
      { jobType: 'EMAIL', payload: { to: 'a' } },
      { jobType: 'SMS', payload: { to: 'b' } },
      { jobType: 'EMAIL', payload: { to: 'c' } },
      { jobType: 'EMAIL', payload: { to: 'd' } },
      { jobType: 'OTHER' },
    ]);
    const response = await call(GET, SECRET);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({ success: true, processed: 3, completed: 3, stoppedBy: 'maxJobs' });
    expect(results).toEqual([body]);
    expect(seen).toEqual(['email:a', 'sms:b', 'email:c']);
    expect(await countJobs(db.current.pool, "job_type = 'SMS' AND status = 'COMPLETED' AND result = '{\"texted\": true}'")).toBe(1);
    // Another type is never touched; what remains waits for the next call.
    expect(await countJobs(db.current.pool, "job_type = 'OTHER' AND status = 'PENDING'")).toBe(1);
    expect(await (await call(GET, SECRET)).json()).toMatchObject({ completed: 1, stoppedBy: 'empty' });
  });

  it('fires due schedules before draining', async () => {
    const GET = cronRoute({ queue: t.queue, handlers: { TICK: async () => 'ticked' } });
    await t.queue.schedules.register('every-minute', { cron: '* * * * *', jobType: 'TICK' });
    await db.current.pool.query(`UPDATE job_schedules SET created_at = now() - interval '5 minutes'`);
    expect(await (await call(GET, SECRET)).json()).toMatchObject({ completed: 1 });
    expect(await countJobs(db.current.pool, "job_type = 'TICK' AND status = 'COMPLETED'")).toBe(1);
  });

  it('refuses before any database work: no or wrong secret 401, unset 500, short in production 500', async () => {
    await t.queue.enqueue({ jobType: 'EMAIL' });
    const GET = cronRoute({ queue: t.queue, handlers: { EMAIL: async () => 'sent' } });
    for (const presented of [undefined, 'wrong', `${SECRET}x`]) {
      const response = await call(GET, presented);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ success: false, error: 'Unauthorized' });
    }
    delete env.CRON_SECRET;
    const unset = await call(GET, '');
    expect(unset.status).toBe(500);
    expect(await unset.json()).toEqual({ success: false, error: 'Server misconfigured: CRON_SECRET is not set' });
    env.CRON_SECRET = 'short';
    env.NODE_ENV = 'production';
    try {
      expect((await call(GET, 'short')).status).toBe(500);
    } finally {
      env.NODE_ENV = 'test';
    }
    expect(await countJobs(db.current.pool, "status = 'PENDING' AND attempts = 0")).toBe(1);
    // Open without a secret only when the app says so.
    delete env.CRON_SECRET;
    const open = cronRoute({ queue: t.queue, handlers: { EMAIL: async () => 'sent' }, openWhenUnset: () => true });
    expect(await (await call(open)).json()).toMatchObject({ completed: 1 });
  });

  it('a failing database is a 500 without details; bad handlers are refused when the route is made', async () => {
    const broken = new DatabaseQueue({ connectionString: 'postgres://nobody@127.0.0.1:1/none', poolMax: 1 });
    const errors: string[] = [];
    const GET = cronRoute({ queue: broken, handlers: { EMAIL: async () => 'sent' }, onError: (message) => errors.push(message) });
    const response = await call(GET, SECRET);
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ success: false, error: 'Worker failed; see server logs' });
    expect(errors).toEqual(['cron route for EMAIL failed']);
    await broken.close();
    expect(() => cronRoute({ queue: t.queue, handlers: {} })).toThrow(ValidationError);
    expect(() => cronRoute({ queue: t.queue, handlers: { EMAIL: 'nope' as never } })).toThrow(ValidationError);
  });
});
