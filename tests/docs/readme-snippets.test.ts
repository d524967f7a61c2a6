/**
 * The TypeScript snippets of the READMEs (every one) and of the guides (those that can) run here, as written, against a real database: each is
 * saved as a module with a prelude (what the snippet assumes exists: the app's own functions, a
 * queue) and an epilogue (closing what it opened, printing what it did), and run by Node (tsx
 * strips the types); the test then checks what it left in the database or printed. A snippet no
 * entry below recognises fails the test, so a new snippet comes with its check. The Prisma model
 * snippet is checked against the table the migrations make.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../packages/pg-conveyor/test/helpers/db';
import { ALL_SNIPPETS, root, TS_SNIPPETS } from './snippets';

// Inside the repository so that `pg-conveyor` and `pino` resolve from its node_modules, as from a user's app.
const runDir = path.join(root, 'node_modules', '.cache', 'readme-snippets');
const typescript = TS_SNIPPETS;
/** What npm and the repository show first: every snippet there runs. A guide's snippet runs when it can (all type-check). */
const MUST_RUN = ['README.md', 'packages/pg-conveyor/README.md'];

interface Exercise {
  /** Recognises the snippet by a line it contains. */
  marker: string;
  prelude?: string;
  epilogue?: string;
  check: (db: TestDatabase, output: string) => Promise<void>;
}

const query = async <R>(db: TestDatabase, sql: string) => (await db.pool.query(sql)).rows as R[];

const EXERCISES: Exercise[] = [
  {
    marker: 'await DatabaseQueue.enqueue({',
    epilogue: `await DatabaseQueue.closeDefault();`,
    check: async (db) => {
      const [job] = await query<{ status: string; result: unknown; progress: unknown; payload: unknown }>(
        db,
        `SELECT status, result, progress, payload FROM job_queue WHERE job_type = 'INGEST_DATA'`,
      );
      expect(job).toEqual({
        status: 'COMPLETED',
        result: { savedCount: 1000 },
        progress: { current: 500, total: 1000, message: 'Processing records...' },
        payload: null,
      });
    },
  },
  {
    marker: 'handlers: { SEND_EMAIL: sendEmail }, concurrency: 8 });',
    prelude: `
      import { DatabaseQueue } from 'pg-conveyor';
      const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL!, poolMax: 2 });
      const sendEmail = async (job: { payload: unknown }) => ({ sent: (job.payload as { to: string }).to });`,
    epilogue: `
      await queue.enqueue({ jobType: 'SEND_EMAIL', payload: { to: 'ada@example.com' } });
      const refused = await GET(new Request('http://localhost/api/workers/email'));
      const answered = await GET(new Request('http://localhost/api/workers/email', { headers: { authorization: 'Bearer ' + process.env.CRON_SECRET } }));
      console.log(JSON.stringify({ maxDuration, refused: refused.status, status: answered.status, body: await answered.json() }));
      await queue.close();`,
    check: async (db, output) => {
      expect(JSON.parse(output.trim().split('\n').pop()!)).toMatchObject({ maxDuration: 60, refused: 401, status: 200, body: { success: true, completed: 1 } });
      expect(await query(db, `SELECT result FROM job_queue WHERE job_type = 'SEND_EMAIL'`)).toEqual([{ result: { sent: 'ada@example.com' } }]);
    },
  },
  {
    // workers-and-drains.md: the registry's every shape in one Worker (the OCR program is not run).
    marker: "OCR: subprocessHandler({ command: 'python3', args: ['workers/ocr.py'] }), // payload on stdin",
    prelude: `
      import { DatabaseQueue, defineJob } from 'pg-conveyor';
      import { z } from 'zod';
      const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL!, poolMax: 6 });
      const sent: string[] = [];
      const mailer = { send: async (to: string, text: string) => void sent.push(to + ': ' + text) };
      const sendReceipt = defineJob({ type: 'SEND_RECEIPT', payload: z.object({ orderId: z.string() }), handler: async (job) => ({ receipt: job.payload.orderId }) });
      const resizeImage = defineJob({ type: 'RESIZE_IMAGE', payload: z.object({ key: z.string() }), handler: async () => ({ bytes: 1 }) });
      const syncCrm = async () => 'synced';
      const sms = { sendMany: async (messages: { to: string; text: string }[], _o: { signal: AbortSignal }) =>
        messages.map((m) => (m.to === 'nobody' ? { ok: false as const, reason: 'no such number' } : { ok: true as const, sid: 'sm_' + m.to })) };
      await queue.enqueue(sendReceipt, { orderId: 'o_1' });
      await queue.enqueueMany([
        { jobType: 'SEND_EMAIL', payload: { to: 'ada@example.com' } },
        { jobType: 'SYNC_CRM' },
        { jobType: 'SEND_SMS', payload: { to: '+100', text: 'hi' } },
        { jobType: 'SEND_SMS', payload: { to: 'nobody', text: 'hi' } },
      ]);`,
    epilogue: `
      const settled = async () => (await queue.getQueueStats()).pending + (await queue.getQueueStats()).processing === 0;
      for (let i = 0; i < 500 && !(await settled()); i++) await new Promise((r) => setTimeout(r, 20));
      await worker.stop();
      console.log(JSON.stringify({ sent }));
      await queue.close();`,
    check: async (db, output) => {
      expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({ sent: ['ada@example.com: Hello'] });
      const rows = await query<{ job_type: string; status: string; result: unknown }>(
        db,
        `SELECT job_type, status, result FROM job_queue ORDER BY job_type, status`,
      );
      expect(rows).toEqual([
        { job_type: 'SEND_EMAIL', status: 'COMPLETED', result: null },
        { job_type: 'SEND_RECEIPT', status: 'COMPLETED', result: { receipt: 'o_1' } },
        { job_type: 'SEND_SMS', status: 'COMPLETED', result: { ok: true, sid: 'sm_+100' } },
        { job_type: 'SEND_SMS', status: 'FAILED', result: { error: 'NonRetryableError: no such number' } }, // that job alone, for good
        { job_type: 'SYNC_CRM', status: 'COMPLETED', result: 'synced' },
      ]);
    },
  },
  {
    // workers-and-drains.md: one drain with the registry, four at a time.
    marker: 'const result = await drainQueue(queue, {',
    prelude: `
      import { DatabaseQueue, defineJob } from 'pg-conveyor';
      import { z } from 'zod';
      const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL!, poolMax: 4 });
      const sendReceipt = defineJob({ type: 'SEND_RECEIPT', payload: z.object({ orderId: z.string() }), handler: async () => 'sent' });
      const resizeImage = defineJob({ type: 'RESIZE_IMAGE', payload: z.object({ key: z.string() }), handler: async () => 'resized' });
      await queue.enqueueMany([...['a', 'b', 'c'].map((orderId) => sendReceipt.job({ orderId })), resizeImage.job({ key: 'k' })]);`,
    epilogue: `
      console.log(JSON.stringify(result));
      await queue.close();`,
    check: async (db, output) => {
      expect(JSON.parse(output.trim().split('\n').pop()!)).toMatchObject({ processed: 4, completed: 4, failed: 0, stoppedBy: 'empty' });
      expect(await query(db, `SELECT count(*)::int AS n FROM job_queue WHERE status = 'COMPLETED'`)).toEqual([{ n: 4 }]);
    },
  },
  {
    // jobs.md: a defined job with defaults and overrides, enqueued four ways.
    marker: 'export const resizeImage = defineJob({',
    prelude: `
      import { DatabaseQueue, defineJob as defineOther } from 'pg-conveyor';
      import { z as zod } from 'zod';
      const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL!, poolMax: 2 });
      const images = { resize: async () => 1 };
      const sendWelcome = defineOther({ type: 'SEND_WELCOME', payload: zod.object({ userId: zod.string() }), handler: async () => null });`,
    epilogue: `await queue.close();`,
    check: async (db) => {
      const rows = await query<{ job_type: string; payload: unknown; priority: number; max_attempts: number; delayed: boolean }>(
        db,
        `SELECT job_type, payload, priority, max_attempts, run_at > now() + interval '30 seconds' AS delayed FROM job_queue ORDER BY job_type, payload->>'key'`,
      );
      expect(rows).toEqual([
        { job_type: 'RESIZE_IMAGE', payload: { key: 'a.jpg', width: 800 }, priority: 1, max_attempts: 4, delayed: false },
        { job_type: 'RESIZE_IMAGE', payload: { key: 'b.jpg', width: 800 }, priority: 1, max_attempts: 4, delayed: false },
        { job_type: 'RESIZE_IMAGE', payload: { key: 'c.jpg', width: 800 }, priority: 1, max_attempts: 4, delayed: false },
        { job_type: 'RESIZE_IMAGE', payload: { key: 'photos/1.jpg', width: 800 }, priority: 1, max_attempts: 4, delayed: false },
        { job_type: 'RESIZE_IMAGE', payload: { key: 'photos/2.jpg', width: 200 }, priority: 5, max_attempts: 4, delayed: true },
        { job_type: 'SEND_WELCOME', payload: { userId: 'u_1' }, priority: 0, max_attempts: 3, delayed: false },
      ]);
    },
  },
  {
    // schedules-limits-dedupe.md: each call, checked in the tables.
    marker: "await queue.schedules.register('nightly-report',",
    prelude: `
      import { DatabaseQueue } from 'pg-conveyor';
      const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL!, poolMax: 2 });`,
    epilogue: `await queue.close();`,
    check: async (db, output) => {
      expect(output.trim().split('\n').pop()).toBe('true true');
      expect(await query(db, `SELECT name, NOT enabled AS paused FROM job_schedules ORDER BY name`)).toEqual([
        { name: 'hourly-digest', paused: true },
        { name: 'nightly-report', paused: false },
      ]);
      const jobs = await query<{ job_type: string; unique_key: string | null; dedupe_key: string | null; concurrency_key: string | null }>(
        db,
        `SELECT job_type, unique_key, dedupe_key, concurrency_key FROM job_queue ORDER BY job_type`,
      );
      expect(jobs.map((j) => j.job_type)).toEqual(['CHARGE', 'DIGEST', 'REINDEX', 'REPORT', 'SYNC_ACCOUNT']);
      expect(jobs.find((j) => j.job_type === 'CHARGE')!.unique_key).toBe('charge:o_1');
      expect(jobs.find((j) => j.job_type === 'DIGEST')!.unique_key).toMatch(/^dedupe:digest@/);
      expect(jobs.find((j) => j.job_type === 'REINDEX')!.concurrency_key).toBe('reindex:p_1');
      expect(jobs.find((j) => j.job_type === 'SYNC_ACCOUNT')!.dedupe_key).toBe('sync:42');
      expect(await query(db, `SELECT count(*)::int AS n FROM job_type_pauses`)).toEqual([{ n: 0 }]); // paused, then resumed
    },
  },
  {
    marker: "import { pino } from 'pino';",
    prelude: `
      const connectionString = process.env.DATABASE_URL!;`,
    epilogue: `
      await queue.enqueue({ jobType: 'LOGGED' });
      await queue.failJob((await queue.claimJob(['LOGGED']))!, new Error('smtp said no'));
      await queue.close();`,
    check: async (_db, output) => {
      const lines = output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      expect(lines).toContainEqual(expect.objectContaining({ level: 40, svc: 'jobs', jobType: 'LOGGED', attempt: 1, msg: 'job attempt failed; will retry' }));
    },
  },
  {
    marker: 'const db = await freshDatabase(',
    prelude: `
      import type { DatabaseQueue as Queue, Job } from 'pg-conveyor';
      const signUp = (queue: Queue, email: string) => queue.enqueue({ jobType: 'SIGN_UP', payload: { email }, delayMs: 60_000 });
      const signUpHandler = async (job: Job<{ email: string }>, ctx: { enqueueOnComplete(job: { jobType: string; payload?: unknown }): void }) => {
        ctx.enqueueOnComplete({ jobType: 'WELCOME_EMAIL', payload: job.payload });
        return { welcomed: true };
      };
      const sendWelcome = async () => 'sent';`,
    epilogue: `console.log('testing snippet done');`,
    check: async (_db, output) => expect(output).toContain('testing snippet done'),
  },
  {
    // workflows.md: a run driven by drains, through its event wait, to its sleep.
    marker: 'export const onboarding = defineWorkflow({',
    prelude: `
      import { DatabaseQueue, drainQueue } from 'pg-conveyor';
      const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL!, poolMax: 3 });
      const sent: string[] = [];
      const createUser = async (email: string) => ({ id: 'u_1', email });
      const mailer = { send: async (to: string, text: string) => void sent.push(text + ' to ' + to) };`,
    epilogue: `
      const drain = () => drainQueue(queue, { handlers: workflows.handlers(), budgetMs: 10_000 });
      await drain(); // to the wait: the event above came before it, so it does not count
      const waiting = (await workflows.getRun(runId))!.currentStep;
      await workflows.sendEvent('email.verified', { userId: 'u_1' });
      await drain();
      const again = await workflows.start('onboarding', { email: 'ada@example.com' }, { idempotencyKey: 'signup:ada' });
      const run = (await workflows.getRun(runId))!;
      console.log(JSON.stringify({ sent, waiting, again: again.created, status: run.status, currentStep: run.currentStep, steps: run.steps.map((s) => s.name) }));
      await queue.close();`,
    check: async (_db, output) => {
      expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({
        sent: ['welcome to ada@example.com'],
        waiting: 'verified',
        again: false,
        status: 'RUNNING',
        currentStep: 'wait a day',
        steps: ['create user', 'send welcome', 'verified', 'wait a day'],
      });
    },
  },
  {
    // The package README's first snippet: a real Prisma transaction (the app's generated client);
    // only the user's own model (tx.order) and mailer are stand-ins.
    marker: 'export const sendReceipt = defineJob({',
    prelude: `
      import { PrismaPg } from '@prisma/adapter-pg';
      import { PrismaClient } from '${root}/src/generated/prisma/client';
      const sent: string[] = [];
      const mailer = { send: async (to: string, subject: string, _o: { signal: AbortSignal }) => void sent.push(to + ': ' + subject) };
      const realPrisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL! }) });
      const orderId = 'o_1';
      const prisma = {
        $transaction: <T>(fn: (tx: any) => Promise<T>) =>
          realPrisma.$transaction((tx) => fn(Object.assign(tx, { order: { update: async () => ({ id: orderId, email: 'ada@example.com' }) } }))),
      };`,
    epilogue: `
      for (let i = 0; i < 250 && (await queue.getQueueStats()).completed < 1; i++) await new Promise((r) => setTimeout(r, 20));
      await worker.stop();
      let refused = '';
      await queue.enqueue(sendReceipt, { orderId: 'o_2', email: 'not an email' }).catch((e: Error) => (refused = e.name));
      console.log(JSON.stringify({ sent, refused }));
      await queue.close();
      await realPrisma.$disconnect();`,
    check: async (db, output) => {
      expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({ sent: ['ada@example.com: Your receipt for o_1'], refused: 'ValidationError' });
      expect(await query(db, `SELECT job_type, status, result, max_attempts FROM job_queue`)).toEqual([
        { job_type: 'SEND_RECEIPT', status: 'COMPLETED', result: { sent: true }, max_attempts: 5 },
      ]);
    },
  },
  {
    marker: 'export const GET = cronRoute({ queue, handlers: jobHandlers(sendReceipt) });',
    prelude: `
      import { DatabaseQueue, defineJob } from 'pg-conveyor';
      import { z } from 'zod';
      const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL!, poolMax: 2 });
      const sendReceipt = defineJob({ type: 'SEND_RECEIPT', payload: z.object({ orderId: z.string() }), handler: async (job) => ({ sent: job.payload.orderId }) });`,
    epilogue: `
      await queue.enqueue(sendReceipt, { orderId: 'o_9' });
      const refused = await GET(new Request('http://localhost/api/jobs'));
      const answered = await GET(new Request('http://localhost/api/jobs', { headers: { authorization: 'Bearer ' + process.env.CRON_SECRET } }));
      console.log(JSON.stringify({ maxDuration, refused: refused.status, status: answered.status, body: await answered.json() }));
      await queue.close();`,
    check: async (db, output) => {
      expect(JSON.parse(output.trim().split('\n').pop()!)).toMatchObject({ maxDuration: 60, refused: 401, status: 200, body: { success: true, completed: 1 } });
      expect(await query(db, `SELECT result FROM job_queue WHERE job_type = 'SEND_RECEIPT'`)).toEqual([{ result: { sent: 'o_9' } }]);
    },
  },
];

afterAll(() => rmSync(runDir, { recursive: true, force: true }));

describe('README snippets', () => {
  it('every README snippet has an exercise here, no snippet two, and every exercise a snippet', () => {
    for (const snippet of typescript) {
      const matched = EXERCISES.filter((e) => snippet.code.includes(e.marker));
      expect(matched.length, `${snippet.file}:${snippet.line}`).toBeLessThanOrEqual(1);
      if (!MUST_RUN.includes(snippet.file)) continue;
      expect(
        EXERCISES.filter((e) => snippet.code.includes(e.marker)),
        `${snippet.file}:${snippet.line}`,
      ).toHaveLength(1);
    }
    for (const exercise of EXERCISES)
      expect(
        typescript.some((s) => s.code.includes(exercise.marker)),
        exercise.marker,
      ).toBe(true);
  });

  for (const exercise of EXERCISES) {
    it(`runs as written: the snippet with "${exercise.marker}"`, async () => {
      const snippet = typescript.find((s) => s.code.includes(exercise.marker))!;
      const db = await createTestDatabase();
      try {
        mkdirSync(runDir, { recursive: true });
        const file = path.join(runDir, `snippet-${snippet.file.replaceAll(/[/.]/g, '_')}-${snippet.line}.mts`);
        writeFileSync(file, `${exercise.prelude ?? ''}\n// ${snippet.file}:${snippet.line}\n${snippet.code}\n${exercise.epilogue ?? ''}\nprocess.exit(0);\n`);
        const run = spawnSync(process.execPath, ['--import', 'tsx', file], {
          cwd: root,
          encoding: 'utf8',
          timeout: 60_000,
          env: {
            ...process.env,
            DATABASE_URL: db.url,
            ADMIN_DATABASE_URL: inject('adminUrl'),
            CRON_SECRET: 'c'.repeat(40),
            CONVEYOR_LOG_LEVEL: 'warn',
            NODE_ENV: 'development',
          },
        });
        expect(run.status, `${snippet.file}:${snippet.line}\n${run.stdout}${run.stderr}`).toBe(0);
        await exercise.check(db, run.stdout);
      } finally {
        await db.drop();
      }
    }, 90_000);
  }

  it('the Prisma model matches the job table the migrations make: every field a column of its type and nullability, every column a field', async () => {
    const prisma = ALL_SNIPPETS.find((s) => s.lang === 'prisma' && s.code.includes('model JobQueue'))!;
    expect(prisma, 'the README has a Prisma model of job_queue').toBeDefined();
    const fields = [...prisma.code.matchAll(/^\s+(\w+)\s+(\w+)(\?)?(.*)$/gm)]
      .filter((m) => !m[1]!.startsWith('@@'))
      .map((m) => ({ column: /@map\("(\w+)"\)/.exec(m[4]!)?.[1] ?? m[1]!, type: m[2]!, nullable: m[3] === '?', attrs: m[4]! }));
    const db = await createTestDatabase();
    try {
      const columns = await query<{ column_name: string; udt_name: string; is_nullable: string }>(
        db,
        `SELECT column_name, udt_name, is_nullable FROM information_schema.columns WHERE table_name = 'job_queue' ORDER BY column_name`,
      );
      const PG_TYPE: Record<string, string[]> = {
        String: ['text', 'uuid'],
        Int: ['int4'],
        Json: ['jsonb'],
        DateTime: ['timestamptz'],
        JobStatus: ['JobStatus'],
      };
      for (const field of fields) {
        const column = columns.find((c) => c.column_name === field.column);
        expect(column, `${field.column} is a column of job_queue`).toBeDefined();
        expect(PG_TYPE[field.type], `${field.column}: ${field.type} vs ${column!.udt_name}`).toContain(column!.udt_name);
        expect(column!.is_nullable === 'YES', `${field.column} nullability`).toBe(field.nullable);
        if (column!.udt_name === 'uuid') expect(field.attrs).toContain('@db.Uuid');
        if (column!.udt_name === 'timestamptz') expect(field.attrs).toContain('@db.Timestamptz');
      }
      expect(fields.map((f) => f.column).sort()).toEqual(columns.map((c) => c.column_name).sort());
    } finally {
      await db.drop();
    }
  });
});
