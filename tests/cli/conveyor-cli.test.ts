import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../packages/pg-conveyor/src/cli';
import { useTestDatabase } from '../helpers/db';
import { countJobs, insertJob, jobRow } from '../helpers/jobs';

const db = useTestDatabase();

async function cli(...args: string[]) {
  const lines: string[] = [];
  const code = await runCli(args, (text) => lines.push(text));
  return { code, out: lines.join('\n') };
}

beforeAll(() => {
  process.env.DATABASE_URL = db.current.url;
});
beforeEach(async () => {
  await db.current.pool.query('DELETE FROM job_queue');
});

describe('npx conveyor', () => {
  it('stats and list', async () => {
    await insertJob(db.current.pool, { status: 'FAILED', jobType: 'EMAIL' });
    await insertJob(db.current.pool, { status: 'PENDING', jobType: 'EMAIL' });
    const stats = await cli('stats');
    expect(stats.code).toBe(0);
    expect(stats.out).toMatch(/pending\s+1/);
    expect(stats.out).toMatch(/failed\s+1/);
    const list = await cli('list', '--status', 'failed');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/EMAIL\s+FAILED/);
    expect(list.out).toMatch(/1 job\(s\)/);
    expect((await cli('list', '--status', 'nope')).code).toBe(2);
  });

  it('status, retry, cancel with exit codes', async () => {
    const failed = await insertJob(db.current.pool, { status: 'FAILED' });
    const done = await insertJob(db.current.pool, { status: 'COMPLETED' });
    expect((await cli('status', failed)).out).toMatch(/FAILED/);
    expect((await cli('status', '00000000-0000-7000-8000-000000000000')).code).toBe(4);
    expect((await cli('status', 'not-an-id')).code).toBe(1);
    expect((await cli('retry', failed)).code).toBe(0);
    expect((await jobRow(db.current.pool, failed)).status).toBe('PENDING');
    const refused = await cli('cancel', done);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/COMPLETED/);
    expect((await cli('retry')).code).toBe(2);
    expect((await cli('bogus')).code).toBe(2);
  });

  it('cleanup --days and flush (refused without --yes)', async () => {
    await insertJob(db.current.pool, { status: 'COMPLETED', completedAtOffsetS: -3 * 86_400 });
    expect((await cli('cleanup', '--days', '2')).out).toMatch(/deleted 1/);
    await insertJob(db.current.pool, { jobType: 'JUNK' });
    await insertJob(db.current.pool, { jobType: 'JUNK', status: 'PROCESSING' });
    await insertJob(db.current.pool, { jobType: 'KEEP' });
    const refused = await cli('flush', '--type', 'JUNK');
    expect(refused.code).toBe(1);
    expect(await countJobs(db.current.pool, "job_type = 'JUNK'")).toBe(2);
    expect((await cli('flush', '--type', 'JUNK', '--yes')).out).toMatch(/deleted 1 JUNK/);
    expect(await countJobs(db.current.pool)).toBe(2);
  });
});
