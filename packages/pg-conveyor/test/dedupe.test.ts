import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { DatabaseQueue, ManualClock, ValidationError } from 'pg-conveyor';
import { useQueue } from './helpers/queue';
import { countJobs } from './helpers/jobs';

const t = useQueue();
const db = t.db;

beforeEach(() => t.reset());

describe('deduplication', () => {
  it('50 concurrent enqueues of one key on 10 connections make one job, and all get it back', async () => {
    const clients = Array.from({ length: 10 }, () => {
      const pool = new pg.Pool({ connectionString: db.current.url, max: 1 });
      pool.on('error', () => {});
      return new DatabaseQueue({ pool });
    });
    try {
      const jobs = await Promise.all(
        Array.from({ length: 50 }, (_, i) => clients[i % 10]!.enqueue({ jobType: 'SYNC', payload: { i }, dedupe: { key: 'sync:account-1' } })),
      );
      expect(new Set(jobs.map((j) => j.id)).size).toBe(1);
      expect(await countJobs(db.current.pool, "job_type = 'SYNC'")).toBe(1);
      // Each caller is told whether its call made the job or found it made.
      expect(jobs.filter((j) => !j.deduplicated)).toHaveLength(1);
    } finally {
      await Promise.all(clients.map((c) => c.pool.end()));
    }
  });

  it('active mode: the key is free again once the job finishes', async () => {
    const first = await t.queue.enqueue({ jobType: 'D', dedupe: { key: 'k' } });
    expect(first.deduplicated).toBe(false);
    const again = await t.queue.enqueue({ jobType: 'D', dedupe: { key: 'k' } });
    expect(again).toMatchObject({ id: first.id, deduplicated: true });
    const claimed = await t.queue.claimJob(['D']);
    expect((await t.queue.enqueue({ jobType: 'D', dedupe: { key: 'k' } })).id).toBe(first.id); // still running
    await t.queue.completeJob(claimed!);
    const second = await t.queue.enqueue({ jobType: 'D', dedupe: { key: 'k' } });
    expect(second.id).not.toBe(first.id);
    expect(await countJobs(db.current.pool)).toBe(2);
  });

  it('window mode: one job per fixed window, whatever its state', async () => {
    const clock = new ManualClock(new Date('2026-01-01T00:00:10Z'));
    const q = new DatabaseQueue({ pool: db.current.pool, clock });
    const a = await q.enqueue({ jobType: 'W', dedupe: { key: 'digest', windowMs: 60_000 } });
    await q.completeJob((await q.claimJob(['W']))!);
    clock.advance(40_000); // 00:00:50, same minute
    expect((await q.enqueue({ jobType: 'W', dedupe: { key: 'digest', windowMs: 60_000 } })).id).toBe(a.id);
    clock.advance(20_000); // 00:01:10, next window
    const b = await q.enqueue({ jobType: 'W', dedupe: { key: 'digest', windowMs: 60_000 } });
    expect(b.id).not.toBe(a.id);
    expect(b.uniqueKey).toBe(`dedupe:digest@${Date.parse('2026-01-01T00:01:00Z')}`);
  });

  it('a batch with duplicates inside it makes one job per key', async () => {
    const jobs = await t.queue.enqueueMany([
      { jobType: 'B', dedupe: { key: 'x' } },
      { jobType: 'B', dedupe: { key: 'x' } },
      { jobType: 'B', dedupe: { key: 'y' } },
      { jobType: 'B' },
    ]);
    expect(jobs[0]!.id).toBe(jobs[1]!.id);
    expect(jobs.map((j) => j.deduplicated)).toEqual([false, true, false, false]);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(3);
    expect(await countJobs(db.current.pool)).toBe(3);
  });

  it('unique keys hold across states; bad dedupe options are refused', async () => {
    const a = await t.queue.enqueue({ jobType: 'U', uniqueKey: 'report:2026-01' });
    await t.queue.cancelJob(a.id);
    expect((await t.queue.enqueue({ jobType: 'U', uniqueKey: 'report:2026-01' })).id).toBe(a.id);
    await expect(t.queue.enqueue({ jobType: 'U', dedupe: { key: '' } })).rejects.toBeInstanceOf(ValidationError);
    await expect(t.queue.enqueue({ jobType: 'U', dedupe: { key: 'k', windowMs: -1 } })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('retry and dedupe', () => {
  it('retrying a failed job whose key another active job holds is refused with its state', async () => {
    const failed = await t.queue.enqueue({ jobType: 'R', dedupe: { key: 'r' }, maxAttempts: 1 });
    await t.queue.failJob((await t.queue.claimJob(['R']))!, new Error('x'));
    await t.queue.enqueue({ jobType: 'R', dedupe: { key: 'r' } });
    const error = await t.queue.retryJob(failed.id).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/dedupe key is active/);
    expect((await t.queue.getJob(failed.id))!.status).toBe('FAILED');
  });
});
