import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseQueue } from '@/lib/queue/db-queue';
import { drainQueue } from '@/lib/queue/drain';
import { subprocessHandler } from '@/lib/queue/subprocess';
import { useTestDatabase } from '../helpers/db';

const db = useTestDatabase();
let queue: DatabaseQueue;
const script = 'tests/fixtures/progress-then-fail.py';

beforeAll(() => {
  queue = new DatabaseQueue({ pool: db.current.pool });
});
beforeEach(async () => {
  await db.current.pool.query('DELETE FROM job_queue');
});
afterAll(async () => queue.close());

async function runOnce(type: string, handler: ReturnType<typeof subprocessHandler>) {
  return drainQueue(queue, { types: [type], maxJobs: 1, handler, budgetMs: 20_000 });
}

describe('subprocess jobs', () => {
  it('a Python script printing progress and then exiting 1: the attempt fails with the code and its stderr, and is retried', async () => {
    const { id } = await queue.enqueue({ jobType: 'PY', payload: { rows: 20 } });
    await runOnce('PY', subprocessHandler({ command: 'python3', args: [script] }));
    const job = (await queue.getJob(id))!;
    expect(job).toMatchObject({ status: 'PENDING', attempts: 1, progress: { current: 75, total: 100 } });
    const message = job.errors[0]!.message;
    expect(message).toMatch(/^python3 exited with code 1: /);
    expect(message).toMatch(/ValueError: bad row 17$/);
    expect(message.length).toBeLessThanOrEqual(1_000);
  });

  it('exit 0 completes with the output; the payload arrives on stdin', async () => {
    const { id } = await queue.enqueue({ jobType: 'PY', payload: { succeed: true } });
    await runOnce('PY', subprocessHandler({ command: 'python3', args: [script] }));
    const job = (await queue.getJob(id))!;
    expect(job.status).toBe('COMPLETED');
    expect(job.result).toMatchObject({ exitCode: 0 });
    expect((job.result as { stdout: string }).stdout).toMatch(/done\n$/);
  });

  it('is killed on timeout', async () => {
    const { id } = await queue.enqueue({ jobType: 'SLOW' });
    const started = Date.now();
    await runOnce('SLOW', subprocessHandler({ command: process.execPath, args: ['-e', 'setTimeout(() => {}, 30000)'], timeoutMs: 300 }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await queue.getJob(id))!.errors[0]!.message).toMatch(/was killed \(timed out after 300 ms\)/);
  });

  it('keeps at most 1 MB of output while the program writes 3 MB', async () => {
    const { id } = await queue.enqueue({ jobType: 'LOUD' });
    const loud = `const line = 'y'.repeat(1023) + '\\n'; for (let i = 0; i < 3072; i++) process.stdout.write(line); process.stdout.write('END\\n');`;
    await runOnce('LOUD', subprocessHandler({ command: process.execPath, args: ['-e', loud] }));
    const job = (await queue.getJob(id))!;
    expect(job.status).toBe('COMPLETED');
    expect((job.result as { stdout: string }).stdout.endsWith('END\n')).toBe(true);
  });

  it('a program that cannot start fails the attempt with a clear error', async () => {
    const { id } = await queue.enqueue({ jobType: 'MISSING' });
    await runOnce('MISSING', subprocessHandler({ command: '/nonexistent/program' }));
    expect((await queue.getJob(id))!.errors[0]!.message).toMatch(/could not start \/nonexistent\/program/);
  });
});
