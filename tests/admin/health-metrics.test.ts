import { beforeEach, describe, expect, it } from 'vitest';
import { GET as healthRoute } from '../../app/api/health/queue/route';
import { GET as metrics } from '../../app/api/metrics/route';
import { GET as ingestionWorker } from '../../app/api/workers/ingestion/route';
import { connections } from '@/lib/db/client';
import { cronRequest, useAppDatabase } from '../helpers/app-env';
import { insertJob } from '../../packages/pg-conveyor/test/helpers/jobs';

const db = useAppDatabase({ NODE_ENV: 'test', CRON_SECRET: 'c' });
// Next's types make NODE_ENV read-only; tests switch it on purpose.
const env = process.env as Record<string, string | undefined>;
const TOKEN = 't'.repeat(40);
const withToken = (path: string, token = TOKEN) => new Request(`http://localhost${path}`, { headers: { authorization: `Bearer ${token}` } });
/** The health answer as the metrics token's holder sees it (details included). */
const health = () => healthRoute(withToken('/api/health/queue'));

beforeEach(async () => {
  await db.current.pool.query('TRUNCATE job_queue, worker_heartbeats');
  process.env.METRICS_TOKEN = TOKEN;
  process.env.HEALTH_CACHE_MS = '0';
  env.NODE_ENV = 'test';
});

describe('GET /api/health/queue', () => {
  it('healthy with an empty queue', async () => {
    const response = await health();
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      healthy: true,
      database: true,
      queue: true,
      worker: true,
      vacuum: true,
      details: {
        database_status: 'ready',
        queue_counts: { waiting: 0, active: 0, completed: 0, failed: 0 },
        oldest_pending_age_seconds: null,
        last_worker_run: null,
        vacuum_blocked_by: null,
      },
    });
  });

  it('503 when jobs wait and no worker has run; 200 once a worker ran; 503 when the oldest waits too long', async () => {
    await insertJob(db.current.pool, { jobType: 'OTHER', status: 'PENDING', createdAtOffsetS: -60, runAtOffsetS: -60 });
    const stalled = await health();
    expect(stalled.status).toBe(503);
    expect(await stalled.json()).toMatchObject({ healthy: false, queue: true, worker: false, details: { queue_counts: { waiting: 1 } } });

    await ingestionWorker(cronRequest('/api/workers/ingestion', 'c'));
    const running = await (await health()).json();
    expect(running).toMatchObject({ healthy: true, worker: true, details: { last_worker_run: { name: 'ingestion' } } });
    expect(running.details.oldest_pending_age_seconds).toBeGreaterThanOrEqual(59);

    await db.current.pool.query(`UPDATE job_queue SET run_at = now() - interval '1 hour'`);
    const old = await health();
    expect(old.status).toBe(503);
    expect(await old.json()).toMatchObject({ queue: false });
  });
  it('a job delayed an hour, enqueued 20 minutes ago, is not a stalled queue: waiting counts from when a job is due', async () => {
    await ingestionWorker(cronRequest('/api/workers/ingestion', 'c')); // a worker runs
    await insertJob(db.current.pool, { jobType: 'OTHER', status: 'PENDING', createdAtOffsetS: -1_200, runAtOffsetS: 2_400 });
    const response = await health();
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ healthy: true, queue: true, details: { queue_counts: { waiting: 1 }, oldest_pending_age_seconds: null } });
  });
});

describe('GET /api/health/queue for anyone', () => {
  it('reports a transaction holding back vacuum ("vacuum is blocked by pid N since T") while the queue keeps working', async () => {
    process.env.HEALTH_MAX_SNAPSHOT_AGE_S = '1';
    const holder = await db.current.pool.connect();
    try {
      await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const {
        rows: [{ pid }],
      } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const { queue } = connections();
      await queue.enqueue({ jobType: 'STILL_WORKS' });
      const [job] = await queue.claimJobs(['STILL_WORKS'], 1);
      await queue.completeJob(job!, { ok: true });
      const response = await health();
      const body = await response.json();
      expect(response.status).toBe(200);
      expect(body).toMatchObject({ healthy: true, vacuum: false, details: { vacuum_blocked_by: { kind: 'session', pid, state: 'idle in transaction' } } });
      expect(body.details.vacuum_blocked_by.message).toMatch(new RegExp(`^vacuum is blocked by pid ${pid} since \\d{4}-`));
      expect(body.details.vacuum_blocked_by.age_seconds).toBeGreaterThanOrEqual(1);
      await holder.query('COMMIT');
      expect(await (await health()).json()).toMatchObject({ vacuum: true, details: { vacuum_blocked_by: null } });
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      holder.release();
      delete process.env.HEALTH_MAX_SNAPSHOT_AGE_S;
    }
  });

  it('answers up or down only: no counts, ages or worker names without the metrics token', async () => {
    await insertJob(db.current.pool, { jobType: 'OTHER', status: 'PENDING', createdAtOffsetS: -60, runAtOffsetS: -60 });
    for (const request of [new Request('http://localhost/api/health/queue'), withToken('/api/health/queue', 'wrong')]) {
      const response = await healthRoute(request);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ healthy: false });
    }
    delete process.env.METRICS_TOKEN; // no token configured: nobody gets the details
    expect(await (await healthRoute(withToken('/api/health/queue'))).json()).toEqual({ healthy: false });
  });

  it('checks the database at most once per HEALTH_CACHE_MS, however many probes come', async () => {
    expect((await health()).status).toBe(200); // HEALTH_CACHE_MS 0: checked now
    process.env.HEALTH_CACHE_MS = '60000';
    await insertJob(db.current.pool, { jobType: 'OTHER', status: 'PENDING', createdAtOffsetS: -60, runAtOffsetS: -60 });
    // Within the minute: the cached answer, no new queries (the stalled job is not seen yet).
    const probes = await Promise.all(Array.from({ length: 20 }, () => healthRoute(new Request('http://localhost/api/health/queue'))));
    expect(probes.map((r) => r.status)).toEqual(new Array(20).fill(200));
    process.env.HEALTH_CACHE_MS = '0';
    expect((await health()).status).toBe(503);
  });
});

describe('GET /api/metrics', () => {
  it('exposes depth by type and status, oldest age, counters and the duration histogram in Prometheus text', async () => {
    const { queue } = connections();
    await queue.enqueueMany([{ jobType: 'M_A' }, { jobType: 'M_A' }, { jobType: 'M_B' }]);
    const job = await queue.claimJob(['M_B']);
    await queue.completeJob(job!, { ok: true });
    const failing = await queue.claimJob(['M_A']);
    await queue.failJob(failing!, new Error('x'));
    const response = await metrics(withToken('/api/metrics'));
    expect(response.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/conveyor_jobs_active\{type="M_A",status="PENDING"\} 2/);
    expect(text).toMatch(/conveyor_jobs\{status="COMPLETED"\} 1/);
    expect(text).toMatch(/conveyor_oldest_pending_age_seconds \d/);
    expect(text).toMatch(/conveyor_jobs_enqueued_total\{type="M_A"\} 2/);
    expect(text).toMatch(/conveyor_jobs_completed_total\{type="M_B"\} 1/);
    expect(text).toMatch(/conveyor_jobs_failed_total\{type="M_A",final="false"\} 1/);
    expect(text).toMatch(/conveyor_job_duration_seconds_count\{type="M_B",outcome="completed"\} 1/);
  });

  it('requires the token when METRICS_TOKEN is set, compared whole', async () => {
    for (const request of [
      new Request('http://localhost/api/metrics'),
      withToken('/api/metrics', 'wrong'),
      withToken('/api/metrics', TOKEN.slice(0, -1)),
      withToken('/api/metrics', `${TOKEN}x`),
      new Request('http://localhost/api/metrics', { headers: { authorization: TOKEN } }),
    ]) {
      const response = await metrics(request);
      expect(response.status).toBe(401);
      expect(await response.text()).not.toMatch(/conveyor_/);
    }
    expect((await metrics(withToken('/api/metrics'))).status).toBe(200);
  });

  it('in production fails closed: no token, or one shorter than 32 characters, exposes nothing', async () => {
    delete process.env.METRICS_TOKEN;
    expect((await metrics(new Request('http://localhost/api/metrics'))).status).toBe(200); // local use: open
    env.NODE_ENV = 'production';
    const unset = await metrics(new Request('http://localhost/api/metrics'));
    expect(unset.status).toBe(500);
    expect(await unset.text()).toBe('Server misconfigured: METRICS_TOKEN is not set\n');
    process.env.METRICS_TOKEN = 'short-token';
    const short = await metrics(withToken('/api/metrics', 'short-token'));
    expect(short.status).toBe(500);
    expect(await short.text()).toMatch(/at least 32 characters/);
    process.env.METRICS_TOKEN = TOKEN;
    expect((await metrics(withToken('/api/metrics'))).status).toBe(200);
  });
});
