/** The CLI through its entry function, in-process (a child process per command would cost a second of start-up each); the packed `conveyor` bin itself runs in tests/package/pack-install.test.ts. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/adapters/cli';
import { queueMigrations } from 'pg-conveyor';
import { useQueue } from '../helpers/queue';
import { countJobs, insertJob, jobRow } from '../helpers/jobs';

const t = useQueue({ reset: true });
const db = t.db;

async function cli(...args: string[]) {
  const lines: string[] = [];
  const code = await runCli(args, (text) => lines.push(text));
  return { code, out: lines.join('\n') };
}

beforeAll(() => {
  process.env.DATABASE_URL = db.current.url;
});

describe('npx conveyor', () => {
  it('pause, paused and resume a type; a bad type is refused (1), a missing one is usage (2)', async () => {
    await db.current.pool.query('DELETE FROM job_type_pauses');
    expect(await cli('pause', 'EMAIL')).toEqual({ code: 0, out: 'EMAIL paused' });
    expect(await cli('pause', 'EMAIL')).toEqual({ code: 0, out: 'EMAIL was paused already' });
    const listed = await cli('paused');
    expect(listed.out).toMatch(/^EMAIL {2}since \S+ by cli\n1 paused type\(s\)$/);
    await insertJob(db.current.pool, { status: 'PENDING', jobType: 'EMAIL' });
    expect((await db.current.pool.query(`SELECT count(*)::int AS n FROM job_type_pauses`)).rows[0].n).toBe(1);
    expect(JSON.parse((await cli('resume', 'EMAIL', '--json')).out)).toEqual({ jobType: 'EMAIL', resumed: true, changed: true });
    expect(await cli('resume', 'EMAIL')).toEqual({ code: 0, out: 'EMAIL was not paused' });
    expect((await cli('pause', 'bad type!')).code).toBe(1);
    expect((await cli('pause')).code).toBe(2);
  });

  it('schedules lists each schedule with its next and last run', async () => {
    await db.current.pool.query('DELETE FROM job_schedules');
    expect((await cli('schedules')).out).toBe('0 schedule(s)');
    await db.current.pool.query(`INSERT INTO job_schedules (name, cron, timezone, job_type) VALUES ('nightly', '0 2 * * *', 'UTC', 'REPORT')`);
    const listed = await cli('schedules');
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^nightly {2}0 2 \* \* \* {2}UTC {2}REPORT {2}next \S+T02:00:00.000Z {2}last never\n1 schedule\(s\)$/);
  });

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

  it('--json: one JSON document per command, errors too, with the same exit codes', async () => {
    const failed = await insertJob(db.current.pool, { status: 'FAILED', jobType: 'EMAIL' });
    await insertJob(db.current.pool, { status: 'PENDING', jobType: 'A_MUCH_LONGER_TYPE' });
    const json = async (...args: string[]) => {
      const run = await cli(...args, '--json');
      return { code: run.code, body: JSON.parse(run.out) };
    };
    expect(await json('stats')).toMatchObject({ code: 0, body: { pending: 1, failed: 1, oldestPending: { id: expect.any(String) } } });
    const list = await json('list');
    expect(list.body.jobs).toHaveLength(2);
    expect(await json('status', failed)).toMatchObject({ code: 0, body: { id: failed, status: 'FAILED' } });
    expect(await json('status', '00000000-0000-7000-8000-000000000000')).toMatchObject({ code: 4, body: { error: expect.stringMatching(/not found/) } });
    expect(await json('cancel', failed)).toMatchObject({ code: 1, body: { currentStatus: 'FAILED' } });
    expect(await json('retry', failed)).toMatchObject({ code: 0, body: { retried: { id: failed, status: 'PENDING' } } });
    expect(await json('cleanup', '--days', '1')).toMatchObject({ code: 0, body: { deleted: 0, olderThanDays: 1 } });
    expect(await json('flush', '--type', 'EMAIL')).toMatchObject({ code: 1, body: { error: expect.stringMatching(/without --yes/) } });
    expect(await json('migrate')).toMatchObject({ code: 0, body: { applied: [], alreadyApplied: queueMigrations().map((m) => m.name) } });
    expect(await json('migrate', '--print-sql')).toMatchObject({ code: 0, body: { sql: expect.stringMatching(/CREATE TABLE "job_queue"/) } });
    expect(await json('bogus')).toMatchObject({ code: 2, body: { error: 'unknown command: bogus' } });
  });

  it('lists in aligned columns under a header; --help is not an error, an unknown option is', async () => {
    await insertJob(db.current.pool, { jobType: 'EMAIL' });
    await insertJob(db.current.pool, { jobType: 'A_MUCH_LONGER_TYPE' });
    const lines = (await cli('list')).out.split('\n');
    expect(lines[0]).toMatch(/^id\s+type\s+status\s+attempts\s+created$/);
    const statusAt = lines[0]!.indexOf('status');
    expect(lines.slice(1, 3).map((l) => l.indexOf('PENDING'))).toEqual([statusAt, statusAt]);
    expect((await cli('--help')).code).toBe(0);
    expect((await cli('list', '--colour')).code).toBe(2);
  });
});

describe('npx conveyor runs', () => {
  it('lists workflow runs, shows one with its steps, cancels one; a missing run is 4, a bad status 2', async () => {
    const { DatabaseQueue, drainQueue } = await import('pg-conveyor');
    const { defineWorkflow, Workflows } = await import('pg-conveyor/workflows');
    const { z } = await import('zod');
    const queue = new DatabaseQueue({ connectionString: db.current.url, poolMax: 2, logger: false });
    const nap = defineWorkflow({
      name: 'cli-nap',
      input: z.object({ who: z.string() }),
      run: async (ctx, { who }) => {
        await ctx.step('greet', () => `hello ${who}`);
        await ctx.sleep('nap', 3_600_000);
        return 'rested';
      },
    });
    const workflows = new Workflows(queue, [nap]);
    try {
      const { runId } = await workflows.start('cli-nap', { who: 'ada' });
      const handlers = workflows.handlers();
      await drainQueue(queue, { types: Object.keys(handlers), handler: (job, ctx) => handlers[job.jobType]!(job, ctx), budgetMs: 5_000 });

      const list = await cli('runs', '--json');
      expect(list.code).toBe(0);
      expect(JSON.parse(list.out).runs).toEqual([expect.objectContaining({ id: runId, name: 'cli-nap', status: 'RUNNING', currentStep: 'nap' })]);
      expect((await cli('runs', 'list', '--status', 'running')).out).toMatch(new RegExp(`${runId}\\s+cli-nap\\s+RUNNING .* nap`));

      const show = await cli('runs', 'show', runId);
      expect(show.code).toBe(0);
      expect(show.out).toMatch(/1\. step\s+greet .*"hello ada"/);
      expect(show.out).toMatch(/2\. sleep\s+nap/);

      const cancelled = await cli('runs', 'cancel', runId, '--json');
      expect(JSON.parse(cancelled.out).cancelled).toMatchObject({ id: runId, status: 'CANCELLED' });
      expect(await countJobs(db.current.pool, "status IN ('PENDING', 'PROCESSING')")).toBe(0);
      const refused = await cli('runs', 'retry', runId);
      expect(refused).toMatchObject({ code: 1, out: expect.stringMatching(/is CANCELLED: only a FAILED run can be retried/) });

      expect((await cli('runs', 'show', '01a21fd4-8745-7ee7-ae68-43cba0921443')).code).toBe(4);
      expect((await cli('runs', 'list', '--status', 'sleeping')).code).toBe(2);
      expect((await cli('runs', 'show', 'not-a-uuid')).code).toBe(1);
    } finally {
      await queue.close();
    }
  });
});

describe('the environment', () => {
  it('reads DATABASE_URL from --env-file, or from .env.local and .env here, never over what is set', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conveyor-cli-env-'));
    const saved = process.env.DATABASE_URL;
    const cwd = process.cwd();
    try {
      writeFileSync(path.join(dir, 'conveyor.env'), `DATABASE_URL=${db.current.url}\n`);
      delete process.env.DATABASE_URL;
      expect((await cli('stats', '--env-file', path.join(dir, 'conveyor.env'))).code).toBe(0);
      delete process.env.DATABASE_URL;
      expect(await cli('stats', '--env-file', path.join(dir, 'missing.env'))).toMatchObject({ code: 2, out: expect.stringMatching(/no such file/) });
      // A Next.js app's files, in the current directory: .env.local wins over .env.
      writeFileSync(path.join(dir, '.env'), 'DATABASE_URL=postgresql://nobody@127.0.0.1:1/none\n');
      writeFileSync(path.join(dir, '.env.local'), `DATABASE_URL=${db.current.url}\n`);
      process.chdir(dir);
      delete process.env.DATABASE_URL;
      expect((await cli('stats')).code).toBe(0);
      // What the environment sets stays.
      process.env.DATABASE_URL = 'postgresql://nobody@127.0.0.1:1/none';
      await expect(cli('stats')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      process.chdir(cwd);
      process.env.DATABASE_URL = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
