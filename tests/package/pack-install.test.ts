/**
 * The library as a user gets it: `npm pack` of packages/pg-conveyor, installed from the tarball
 * into a folder outside the repository, then used from plain Node (no tsx), from its `conveyor`
 * bin, and type-checked by a non-strict TypeScript project with Node's own module resolution.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withDatabase } from '../setup/template-db';

const root = path.resolve(import.meta.dirname, '../..');
let consumer: string;
let installOutput = '';
// An empty database: the package's own `conveyor migrate` makes everything it needs.
const dbName = `conveyor_packed_${process.pid}_${Date.now() % 100000}`;
const db = { current: { url: '' } };
async function admin(sql: string) {
  const client = new pg.Client({ connectionString: inject('adminUrl') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await admin(`CREATE DATABASE ${dbName}`);
  db.current.url = withDatabase(inject('adminUrl'), dbName);
  consumer = mkdtempSync(path.join(os.tmpdir(), 'pg-conveyor-user-'));
  const packed = execFileSync('npm', ['pack', '-w', 'pg-conveyor', '--pack-destination', consumer, '--silent'], { cwd: root, encoding: 'utf8' });
  const tarball = path.join(consumer, packed.trim().split('\n').pop()!);
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'a-user-app', private: true, type: 'module' }));
  const install = spawnSync('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=warn'], { cwd: consumer, encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`npm install failed: ${install.stdout}${install.stderr}`);
  installOutput = `${install.stdout}${install.stderr}`;
}, 240_000);
afterAll(async () => {
  if (consumer) rmSync(consumer, { recursive: true, force: true });
  await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
});

/** A user's shell: PATH and HOME, nothing of this repository's environment. */
const userEnv = (extra: Record<string, string | undefined> = {}) =>
  ({ PATH: process.env.PATH, HOME: process.env.HOME, ...extra }) as unknown as NodeJS.ProcessEnv;
const node = (args: string[], env: Record<string, string | undefined> = {}) => {
  const result = spawnSync(process.execPath, args, { cwd: consumer, encoding: 'utf8', env: userEnv(env) });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
};

/**
 * The script's own answer: its one JSON line that is not a log line. The library's pino logger
 * writes to the same stdout asynchronously, so its lines may come before or after.
 */
function scriptResult(out: string): unknown {
  const answers = out
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((o) => !('level' in o && 'msg' in o));
  expect(answers, out).toHaveLength(1);
  return answers[0];
}

describe('npm pack, installed elsewhere', () => {
  it('pulls only what the library needs at run time', () => {
    const installed = readdirSync(path.join(consumer, 'node_modules')).filter((name) => !name.startsWith('.'));
    for (const appOnly of ['next', 'react', 'react-dom', 'openai', 'iron-session', '@prisma', 'prisma', 'sharp', 'tsx', 'csv-parse']) {
      expect(installed, appOnly).not.toContain(appOnly);
    }
    expect(installed).toEqual(expect.arrayContaining(['pg-conveyor', 'pg', 'zod', 'croner', 'pino', '@opentelemetry']));
    // No warning on a supported Node (this repository's own dev tools, Prisma's CLI, warn; a user of the library gets none).
    expect(installOutput).not.toMatch(/EBADENGINE|npm warn/i);
    // Only compiled output, its sources (for the source maps), README, CHANGELOG and LICENSE: no app, tests or stray files.
    const shipped = readdirSync(path.join(consumer, 'node_modules', 'pg-conveyor')).sort();
    expect(shipped).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'dist', 'migrations', 'package.json', 'src']);
  });

  it('conveyor migrate makes its tables in an empty database (once), and --print-sql needs no database', () => {
    const bin = path.join(consumer, 'node_modules', '.bin', 'conveyor');
    const first = spawnSync(bin, ['migrate'], { cwd: consumer, encoding: 'utf8', env: userEnv({ DATABASE_URL: db.current.url }) });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applied 0001_queue/);
    const again = spawnSync(bin, ['migrate'], { cwd: consumer, encoding: 'utf8', env: userEnv({ DATABASE_URL: db.current.url }) });
    expect(again.stdout).toMatch(/up to date/);
    const sql = spawnSync(bin, ['migrate', '--print-sql'], { cwd: consumer, encoding: 'utf8', env: userEnv() });
    expect(sql.status).toBe(0);
    expect(sql.stdout).toMatch(/CREATE TABLE "job_queue"[\s\S]*INSERT INTO "conveyor_migrations"/);
    expect(spawnSync(bin, ['--help'], { encoding: 'utf8', env: userEnv() }).status).toBe(0);
  });

  it('round-trips a job from plain Node: enqueue, drain, read back', () => {
    writeFileSync(
      path.join(consumer, 'round-trip.mjs'),
      `
      import { DatabaseQueue, drainQueue, ValidationError } from 'pg-conveyor';
      import { Worker } from 'pg-conveyor/worker';
      import { expectCompleted } from 'pg-conveyor/testing';
      const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL, poolMax: 2 });
      const job = await queue.enqueue({ jobType: 'PACKED', payload: { n: 41 } });
      const drained = await drainQueue(queue, { types: ['PACKED'], handler: async (j) => ({ n: j.payload.n + 1 }) });
      const done = await expectCompleted(queue, job, { n: 42 });
      let refused = null;
      try { await queue.enqueue({ jobType: 'bad type!' }); } catch (error) { refused = error instanceof ValidationError; }
      console.log(JSON.stringify({ completed: drained.completed, status: done.status, result: done.result, refused, worker: typeof Worker }));
      await queue.close();
    `,
    );
    const run = node(['round-trip.mjs'], { DATABASE_URL: db.current.url });
    expect(run.code, run.out).toBe(0);
    expect(scriptResult(run.out)).toEqual({ completed: 1, status: 'COMPLETED', result: { n: 42 }, refused: true, worker: 'function' });
  });

  it('a cron route from pg-conveyor/next in three lines, called as Next.js would call it', () => {
    writeFileSync(
      path.join(consumer, 'route.mjs'),
      `
      import { DatabaseQueue } from 'pg-conveyor';
      import { cronRoute } from 'pg-conveyor/next';
      const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL, poolMax: 1 });
      export const GET = cronRoute({ queue, handlers: { PACKED_CRON: async (job) => ({ seen: job.payload.n }) } });
      await queue.enqueue({ jobType: 'PACKED_CRON', payload: { n: 7 } });
      const refused = await GET(new Request('http://localhost/api/cron'));
      const answered = await GET(new Request('http://localhost/api/cron', { headers: { authorization: 'Bearer ' + process.env.CRON_SECRET } }));
      console.log(JSON.stringify({ refused: refused.status, status: answered.status, body: await answered.json() }));
      await queue.close();
    `,
    );
    const run = node(['route.mjs'], { DATABASE_URL: db.current.url, CRON_SECRET: 'x'.repeat(40) });
    expect(run.code, run.out).toBe(0);
    const out = scriptResult(run.out);
    expect(out).toMatchObject({ refused: 401, status: 200, body: { success: true, completed: 1 } });
  });

  it('the conveyor bin runs without tsx, and without DATABASE_URL says what to set instead of starting a database', () => {
    const bin = path.join(consumer, 'node_modules', '.bin', 'conveyor');
    const stats = spawnSync(bin, ['stats'], { cwd: consumer, encoding: 'utf8', env: userEnv({ DATABASE_URL: db.current.url }) });
    expect(stats.status, stats.stderr).toBe(0);
    expect(stats.stdout).toMatch(/pending\s+\d+/);
    const unset = spawnSync(bin, ['stats'], { cwd: consumer, encoding: 'utf8', env: userEnv() });
    expect(unset.status).toBe(2);
    expect(`${unset.stdout}${unset.stderr}`).toMatch(/DATABASE_URL is not set/);
    expect(existsSync(path.join(consumer, 'node_modules', 'pg-conveyor', '.data'))).toBe(false);
    expect(existsSync(path.join(consumer, '.data'))).toBe(false);
  });

  it('type-checks in a non-strict project with Node16 module resolution', () => {
    writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2020', strict: false, noEmit: true, skipLibCheck: false, types: [] },
        files: ['use.ts'],
      }),
    );
    writeFileSync(
      path.join(consumer, 'use.ts'),
      `
      import { DatabaseQueue, type Job } from 'pg-conveyor';
      import { Worker } from 'pg-conveyor/worker';
      import { subprocessHandler } from 'pg-conveyor/subprocess';
      import { cronRoute } from 'pg-conveyor/next';
      export const GET: (request: Request) => Promise<Response> = cronRoute({ queue: () => null as DatabaseQueue, handlers: { EMAIL: async () => 'sent' } });
      export async function use(queue: DatabaseQueue): Promise<Job | null> {
        const worker = new Worker({ queue, handlers: { EMAIL: { concurrency: 2, handler: async (job) => job.payload } } });
        void worker; void subprocessHandler;
        return queue.getJob('00000000-0000-7000-8000-000000000000');
      }
    `,
    );
    const tsc = node([path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
    expect(tsc.code, tsc.out).toBe(0);
  });

  it('typed jobs and workflows: a wrong payload, an undeclared job type, a wrong workflow name or input are compile errors in a strict project', () => {
    writeFileSync(
      path.join(consumer, 'tsconfig.typed.json'),
      JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: [] },
        files: ['typed.ts'],
      }),
    );
    // Each @ts-expect-error must meet an error, or tsc fails with "Unused '@ts-expect-error' directive";
    // the lines without one must compile.
    writeFileSync(
      path.join(consumer, 'typed.ts'),
      `
      import { z } from 'zod';
      import { DatabaseQueue, defineJob, jobHandlers, type JobPayloads } from 'pg-conveyor';
      import { Worker } from 'pg-conveyor/worker';
      import { defineWorkflow, Workflows } from 'pg-conveyor/workflows';
      const sendReceipt = defineJob({
        type: 'SEND_RECEIPT',
        payload: z.object({ orderId: z.string(), total: z.number() }),
        handler: async (job) => job.payload.orderId.toUpperCase(), // typed, not null
      });
      declare module 'pg-conveyor' {
        interface JobTypes extends JobPayloads<typeof sendReceipt> {
          CLEANUP: { days: number };
          PING: undefined;
        }
      }
      const onboarding = defineWorkflow({ name: 'onboarding', input: z.object({ email: z.string() }), run: async (_ctx, input) => input.email });
      export async function use(queue: DatabaseQueue) {
        const job = await queue.enqueue(sendReceipt, { orderId: 'o_1', total: 42 });
        const total: number | undefined = job.payload?.total;
        // @ts-expect-error -- total is a number
        await queue.enqueue(sendReceipt, { orderId: 'o_1', total: '42' });
        // @ts-expect-error -- orderId is missing
        await queue.enqueue(sendReceipt, { total: 42 });
        // @ts-expect-error -- a payload field the schema does not have
        await queue.enqueueMany(sendReceipt, [{ orderId: 'o_1', total: 1, extra: true }]);
        await queue.enqueue({ jobType: 'CLEANUP', payload: { days: 7 }, delayMs: 1_000 });
        await queue.enqueue({ jobType: 'PING' });
        await queue.enqueueMany([{ jobType: 'SEND_RECEIPT', payload: { orderId: 'o_2', total: 1 } }, { jobType: 'CLEANUP', payload: { days: 1 } }]);
        // @ts-expect-error -- a job type JobTypes does not declare
        await queue.enqueue({ jobType: 'SEND_RECIEPT', payload: { orderId: 'o_1', total: 42 } });
        // @ts-expect-error -- a declared type with the wrong payload
        await queue.enqueue({ jobType: 'CLEANUP', payload: { days: '7' } });
        // @ts-expect-error -- a declared payload is required
        await DatabaseQueue.enqueue({ jobType: 'CLEANUP' });
        const workflows = new Workflows(queue, [onboarding]);
        await workflows.start('onboarding', { email: 'ada@example.com' });
        await workflows.start(onboarding, { email: 'ada@example.com' });
        // @ts-expect-error -- no workflow of that name
        await workflows.start('onbording', { email: 'ada@example.com' });
        // @ts-expect-error -- email is a string
        await workflows.start('onboarding', { email: 42 });
        return [total, new Worker({ queue, handlers: { ...jobHandlers(sendReceipt), ...workflows.handlers() } })];
      }
    `,
    );
    const tsc = node([path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.typed.json']);
    expect(tsc.code, tsc.out).toBe(0);
  });
});
