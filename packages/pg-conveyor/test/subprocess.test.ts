import { spawnSync } from 'node:child_process';
import { beforeEach, describe, expect, it } from 'vitest';
import { drainQueue } from 'pg-conveyor';
import { subprocessHandler } from 'pg-conveyor/subprocess';
import { useQueue } from './helpers/queue';
import { until } from './helpers/wait';

const t = useQueue();

const script = 'packages/pg-conveyor/test/fixtures/progress-then-fail.py';

beforeEach(() => t.reset());

async function runOnce(type: string, handler: ReturnType<typeof subprocessHandler>) {
  return drainQueue(t.queue, { types: [type], maxJobs: 1, handler, budgetMs: 20_000 });
}

describe('subprocess jobs', () => {
  it('a Python script printing progress and then exiting 1: the attempt fails with the code and its stderr, and is retried', async () => {
    const { id } = await t.queue.enqueue({ jobType: 'PY', payload: { rows: 20 } });
    await runOnce('PY', subprocessHandler({ command: 'python3', args: [script] }));
    const job = (await t.queue.getJob(id))!;
    expect(job).toMatchObject({ status: 'PENDING', attempts: 1, progress: { current: 75, total: 100 } });
    const message = job.errors[0]!.message;
    expect(message).toMatch(/^python3 exited with code 1: /);
    expect(message).toMatch(/ValueError: bad row 17$/);
    expect(message.length).toBeLessThanOrEqual(1_000);
  });

  it('exit 0 completes with the output; the payload arrives on stdin', async () => {
    const { id } = await t.queue.enqueue({ jobType: 'PY', payload: { succeed: true } });
    await runOnce('PY', subprocessHandler({ command: 'python3', args: [script] }));
    const job = (await t.queue.getJob(id))!;
    expect(job.status).toBe('COMPLETED');
    expect(job.result).toMatchObject({ exitCode: 0 });
    expect((job.result as { stdout: string }).stdout).toMatch(/done\n$/);
  });

  it('is killed on timeout', async () => {
    const { id } = await t.queue.enqueue({ jobType: 'SLOW' });
    const started = Date.now();
    await runOnce('SLOW', subprocessHandler({ command: process.execPath, args: ['-e', 'setTimeout(() => {}, 30000)'], timeoutMs: 300 }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await t.queue.getJob(id))!.errors[0]!.message).toMatch(/was killed \(timed out after 300 ms\)/);
  });

  it('on timeout kills the whole process group: a child the program started dies with it', async () => {
    const { id } = await t.queue.enqueue({ jobType: 'TREE' });
    // The shell starts a child and waits on it; killing only the shell would leave the child behind.
    await runOnce('TREE', subprocessHandler({ command: 'sh', args: ['-c', 'sleep 31.7 & wait'], timeoutMs: 500 }));
    expect((await t.queue.getJob(id))!.errors[0]!.message).toMatch(/^sh was killed \(timed out after 500 ms\)/);
    // The group's SIGKILL is delivered at once; the kernel reaps the child a moment later.
    await until(() => spawnSync('pgrep', ['-f', '^sleep 31.7$'], { encoding: 'utf8' }).stdout.trim() === '', 2_000);
  });

  it("passes the program an allowlist of the worker's environment, not its secrets", async () => {
    process.env.CONVEYOR_TEST_SECRET = 'do-not-leak';
    process.env.CONVEYOR_TEST_SHARED = 'shared-on-purpose';
    try {
      const { id } = await t.queue.enqueue({ jobType: 'ENV' });
      await runOnce(
        'ENV',
        subprocessHandler({
          command: process.execPath,
          args: ['-e', 'process.stdout.write(JSON.stringify(process.env))'],
          env: { GIVEN: 'given' },
          inheritEnv: ['CONVEYOR_TEST_SHARED'],
        }),
      );
      const job = (await t.queue.getJob(id))!;
      const seen = JSON.parse((job.result as { stdout: string }).stdout) as Record<string, string>;
      expect(seen).toMatchObject({
        PATH: process.env.PATH,
        GIVEN: 'given',
        CONVEYOR_TEST_SHARED: 'shared-on-purpose',
        CONVEYOR_JOB_ID: id,
        CONVEYOR_JOB_ATTEMPT: '1',
      });
      expect(Object.keys(seen)).not.toContain('CONVEYOR_TEST_SECRET');
    } finally {
      delete process.env.CONVEYOR_TEST_SECRET;
      delete process.env.CONVEYOR_TEST_SHARED;
    }
  });

  it('keeps at most 1 MB of output while the program writes 3 MB', async () => {
    const { id } = await t.queue.enqueue({ jobType: 'LOUD' });
    const loud = `const line = 'y'.repeat(1023) + '\\n'; for (let i = 0; i < 3072; i++) process.stdout.write(line); process.stdout.write('END\\n');`;
    await runOnce('LOUD', subprocessHandler({ command: process.execPath, args: ['-e', loud] }));
    const job = (await t.queue.getJob(id))!;
    expect(job.status).toBe('COMPLETED');
    expect((job.result as { stdout: string }).stdout.endsWith('END\n')).toBe(true);
  });

  it('a program that cannot start fails the attempt with a clear error', async () => {
    const { id } = await t.queue.enqueue({ jobType: 'MISSING' });
    await runOnce('MISSING', subprocessHandler({ command: '/nonexistent/program' }));
    expect((await t.queue.getJob(id))!.errors[0]!.message).toMatch(/could not start \/nonexistent\/program/);
  });
});
