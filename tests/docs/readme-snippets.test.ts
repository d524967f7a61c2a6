/**
 * Every TypeScript snippet in the READMEs runs here, as written, against a real database: each is
 * saved as a module with a prelude (what the snippet assumes exists: the app's own functions, a
 * queue) and an epilogue (closing what it opened, printing what it did), and run by Node (tsx
 * strips the types); the test then checks what it left in the database or printed. A snippet no
 * entry below recognises fails the test, so a new snippet comes with its check. The Prisma model
 * snippet is checked against the table the migrations make.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../packages/pg-conveyor/test/helpers/db';

const root = path.resolve(import.meta.dirname, '../..');
// Inside the repository so that `pg-conveyor` and `pino` resolve from its node_modules, as from a user's app.
const runDir = path.join(root, 'node_modules', '.cache', 'readme-snippets');

interface Snippet {
  file: string;
  line: number;
  lang: string;
  code: string;
}

function snippets(file: string): Snippet[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const found: Snippet[] = [];
  const fence = /^```(\w+)\n([\s\S]*?)^```$/gm;
  for (let m = fence.exec(text); m; m = fence.exec(text)) {
    found.push({ file, line: text.slice(0, m.index).split('\n').length, lang: m[1]!, code: m[2]! });
  }
  return found;
}

const ALL = [...snippets('README.md'), ...snippets('packages/pg-conveyor/README.md')];
const typescript = ALL.filter((s) => s.lang === 'ts');

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
    marker: 'handlers: { SEND_EMAIL: sendEmail }, maxJobs: 10 });',
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
    marker: "import { subprocessHandler } from 'pg-conveyor/subprocess';",
    prelude: `
      import { DatabaseQueue } from 'pg-conveyor';
      const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL!, poolMax: 6 });
      const sent: unknown[] = [];
      const send = async (payload: unknown, _options: { signal: AbortSignal }) => { sent.push(payload); return { ok: true }; };
      const resize = async () => 'resized';
      const sms = { sendMany: async (payloads: unknown[], _options: { signal: AbortSignal }) => payloads.map((p, i) => (i === 1 ? { ok: false, reason: 'no such number' } : { ok: true, p })) };
      const payload = { to: 'ada@example.com' };
      await queue.enqueue({ jobType: 'MANUAL' });
      const job = (await queue.claimJob(['MANUAL']))!;
      const result = { done: true };
      await queue.enqueueMany([{ jobType: 'SEND_SMS', payload: 1 }, { jobType: 'SEND_SMS', payload: 2 }, { jobType: 'RESIZE' }]);`,
    epilogue: `
      const settled = async () => (await queue.listJobs({ jobType: 'SEND_SMS' })).every((j) => j.attempts > 0 && j.status !== 'PROCESSING')
        && (await queue.listJobs({ jobType: 'RESIZE', status: 'COMPLETED' })).length === 1;
      for (let i = 0; i < 500 && !(await settled()); i++) await new Promise((r) => setTimeout(r, 20));
      await worker.stop();
      await queue.close();`,
    check: async (db) => {
      const jobs = await query<{
        job_type: string;
        status: string;
        attempts: number;
        run_at_future: boolean;
        dedupe_key: string | null;
        unique_key: string | null;
      }>(
        db,
        `SELECT job_type, status, attempts, run_at > now() + interval '30 seconds' AS run_at_future, dedupe_key, unique_key FROM job_queue ORDER BY job_type, created_at`,
      );
      const of = (type: string) => jobs.filter((j) => j.job_type === type);
      expect(of('SEND_EMAIL')).toMatchObject([{ status: 'PENDING', run_at_future: true }]); // delayed a minute
      expect(of('SYNC')).toMatchObject([{ dedupe_key: 'sync:42' }]);
      expect(of('DIGEST')[0]!.unique_key).toMatch(/^dedupe:digest@/);
      expect(of('MANUAL')).toMatchObject([{ status: 'COMPLETED' }]);
      expect(of('NEXT_STEP')).toHaveLength(1); // chained in the completion's statement
      expect(of('RESIZE')).toMatchObject([{ status: 'COMPLETED' }]);
      // The batch handler's Error failed its own job only.
      expect(
        of('SEND_SMS')
          .map((j) => j.status)
          .sort(),
      ).toEqual(['COMPLETED', 'PENDING']);
      expect(await query(db, `SELECT job_type, max_running, rate_limit FROM job_type_limits`)).toEqual([
        { job_type: 'CALL_API', max_running: 2, rate_limit: 10 },
      ]);
      expect(await query(db, `SELECT name FROM job_schedules`)).toEqual([]); // scheduled, then unscheduled
    },
  },
  {
    marker: "import { pino } from 'pino';",
    prelude: `
      import { DatabaseQueue } from 'pg-conveyor';
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
    marker: 'const onboarding = defineWorkflow({',
    prelude: `
      import { DatabaseQueue } from 'pg-conveyor';
      const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL!, poolMax: 3 });
      const sent: string[] = [];
      const createUser = async (email: string) => ({ id: 'user-' + email.split('@')[0] });
      const sendEmail = async (email: string, kind: string) => void sent.push(kind + ' to ' + email);`,
    epilogue: `
      const call = () => GET(new Request('http://localhost/api/workers/workflows', { headers: { authorization: 'Bearer ' + process.env.CRON_SECRET } }));
      for (let i = 0; i < 5 && (await workflows.getRun(runId))!.currentStep !== 'wait a day'; i++) await call();
      const again = await workflows.start('onboarding', { email: 'ada@example.com' }, { idempotencyKey: 'signup:ada' });
      const run = (await workflows.getRun(runId))!;
      console.log(JSON.stringify({ sent, again: again.created, status: run.status, currentStep: run.currentStep, steps: run.steps.map((s) => s.name) }));
      await queue.close();`,
    check: async (_db, output) => {
      expect(JSON.parse(output.trim().split('\n').pop()!)).toEqual({
        sent: ['welcome to ada@example.com'],
        again: false,
        status: 'RUNNING',
        currentStep: 'wait a day',
        steps: ['create user', 'send welcome', 'wait a day'],
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
  it('every TypeScript snippet has an exercise here, and every exercise a snippet', () => {
    for (const snippet of typescript) {
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
        const file = path.join(runDir, `snippet-${snippet.line}.mts`);
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
    const prisma = ALL.find((s) => s.lang === 'prisma' && s.code.includes('model JobQueue'))!;
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
