/**
 * examples/nextjs-prisma as a user would run it, outside the repository, with pg-conveyor
 * installed from its tarball: Prisma's client generated, `npm run migrate`, `next build`
 * (Turbopack, TypeScript), `next start`; its order route pays an order and enqueues in the same
 * Prisma transaction, its cron route drains as Vercel Cron would call it, and its own `npm test`
 * passes. The README's three-line cron route is built into the same app.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../packages/pg-conveyor/test/helpers/db';
import { until } from '../../packages/pg-conveyor/test/helpers/wait';

const root = path.resolve(import.meta.dirname, '../..');
const version = (name: string) => JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version as string;
const secret = 's'.repeat(40);
/** A user's shell: PATH and HOME, nothing of this repository's environment. */
const userEnv = (extra: Record<string, string>) =>
  ({ PATH: process.env.PATH, HOME: process.env.HOME, NEXT_TELEMETRY_DISABLED: '1', ...extra }) as unknown as NodeJS.ProcessEnv;
let app: string;
let db: TestDatabase & { drop(): Promise<void> };
let server: ChildProcess | null = null;
let port = 0;

const write = (file: string, text: string) => {
  mkdirSync(path.dirname(path.join(app, file)), { recursive: true });
  writeFileSync(path.join(app, file), text);
};

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  app = mkdtempSync(path.join(os.tmpdir(), 'pg-conveyor-next-app-'));
  const packed = execFileSync('npm', ['pack', '-w', 'pg-conveyor', '--pack-destination', app, '--silent'], { cwd: root, encoding: 'utf8' });
  cpSync(path.join(root, 'examples', 'nextjs-prisma'), app, { recursive: true, filter: (from) => !/node_modules|\.next|generated/.test(from) });
  // The example's dependencies at the versions this repository tests with, pg-conveyor from the tarball.
  execFileSync(
    'npm',
    [
      'install',
      path.join(app, packed.trim().split('\n').pop()!),
      ...['next', 'react', 'react-dom', 'zod', 'pg', '@prisma/client', '@prisma/adapter-pg'].map((name) => `${name}@${version(name)}`),
      ...['prisma', 'tsx', 'typescript', '@types/react', '@types/node'].map((name) => `${name}@${version(name)}`),
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
    ],
    { cwd: app, stdio: 'inherit' },
  );
  // This machine has no Prisma schema engine; generate needs none (the repository's stub stands in).
  execFileSync(path.join(app, 'node_modules', '.bin', 'prisma'), ['generate'], {
    cwd: app,
    stdio: 'inherit',
    env: userEnv({ PRISMA_SCHEMA_ENGINE_BINARY: path.join(root, 'scripts', 'prisma-schema-engine-stub.sh'), DATABASE_URL: db.url }),
  });
  execFileSync('npm', ['run', 'migrate', '--silent'], { cwd: app, stdio: 'inherit', env: userEnv({ DATABASE_URL: db.url }) });
  write(
    'lib/queue.ts',
    `
import { DatabaseQueue } from 'pg-conveyor';
// A pool opens no connection until it is used: importing this (as next build does) connects to nothing.
export const queue = new DatabaseQueue({ connectionString: process.env.DATABASE_URL, poolMax: 2 });
export const sendEmail = async (job: { payload: unknown }) => ({ sent: (job.payload as { to: string }).to });
`,
  );
  // The README's three lines, after the import of the app's own queue and handler.
  const snippet = /```ts\n(import \{ cronRoute \} from 'pg-conveyor\/next';\n[\s\S]*?)```/.exec(readFileSync(path.join(root, 'README.md'), 'utf8'))![1]!;
  write('app/api/workers/email/route.ts', `import { queue, sendEmail } from '../../../../lib/queue';\n${snippet}`);
}, 300_000);

afterAll(async () => {
  server?.kill('SIGTERM');
  if (app) rmSync(app, { recursive: true, force: true });
  await db?.drop();
});

describe('a Next.js app using pg-conveyor/next', () => {
  it('builds with next build', () => {
    const build = spawnSync(process.execPath, [path.join(app, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], {
      // As on Vercel, the environment's variables are there at build time too.
      cwd: app,
      encoding: 'utf8',
      timeout: 240_000,
      env: userEnv({ DATABASE_URL: db.url }),
    });
    expect(build.status, `${build.stdout}${build.stderr}`).toBe(0);
    expect(build.stdout).toMatch(/\/api\/workers\/email/);
    expect(build.stdout).toMatch(/\/api\/orders\/pay/);
  }, 300_000);

  it('serves the cron route: 401 without the secret, drains with it', async () => {
    port = await freePort();
    server = spawn(process.execPath, [path.join(app, 'node_modules', 'next', 'dist', 'bin', 'next'), 'start', '-p', String(port), '-H', '127.0.0.1'], {
      cwd: app,
      stdio: 'ignore',
      env: userEnv({ DATABASE_URL: db.url, CRON_SECRET: secret, CONVEYOR_LOG_LEVEL: 'warn' }),
    });
    const url = `http://127.0.0.1:${port}/api/workers/email`;
    await until(
      async () =>
        (await fetch(url)
          .then((r) => r.status)
          .catch(() => 0)) === 401,
      30_000,
    );
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await pool.query(`INSERT INTO job_queue (job_type, payload) VALUES ('SEND_EMAIL', '{"to": "ada@example.com"}')`);
      const answer = await fetch(url, { headers: { authorization: `Bearer ${secret}` } });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ success: true, processed: 1, completed: 1 });
      expect((await pool.query(`SELECT status, result FROM job_queue WHERE job_type = 'SEND_EMAIL'`)).rows).toEqual([
        { status: 'COMPLETED', result: { sent: 'ada@example.com' } },
      ]);
    } finally {
      await pool.end();
    }
  }, 60_000);

  it("serves the example's routes: an order paid with its jobs in one transaction, drained by the cron route", async () => {
    const base = `http://127.0.0.1:${port}`;
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await pool.query(`INSERT INTO orders (id, email) VALUES ('o_42', 'ada@example.com')`);
      const refused = await fetch(`${base}/api/orders/pay`, { method: 'POST', body: JSON.stringify({ orderId: 42 }) });
      expect(refused.status).toBe(400);
      const paid = await fetch(`${base}/api/orders/pay`, { method: 'POST', body: JSON.stringify({ orderId: 'o_42' }) });
      expect(paid.status).toBe(202);
      const { receiptJobId, runId } = (await paid.json()) as { receiptJobId: string; runId: string };
      expect((await fetch(`${base}/api/jobs`)).status).toBe(401);
      const drained = await fetch(`${base}/api/jobs`, { headers: { authorization: `Bearer ${secret}` } });
      expect(drained.status).toBe(200);
      expect(await drained.json()).toMatchObject({ success: true, failed: 0, stoppedBy: 'empty' });
      expect((await pool.query(`SELECT status FROM job_queue WHERE id = $1`, [receiptJobId])).rows).toEqual([{ status: 'COMPLETED' }]);
      expect((await pool.query(`SELECT status, current_step FROM workflow_runs WHERE id = $1`, [runId])).rows).toEqual([
        { status: 'RUNNING', current_step: 'wait a week' },
      ]);
      expect((await pool.query(`SELECT status FROM orders WHERE id = 'o_42'`)).rows).toEqual([{ status: 'PAID' }]);
    } finally {
      await pool.end();
    }
  }, 60_000);

  it("passes the example's own test (npm test)", () => {
    const run = spawnSync('npm', ['test', '--silent'], { cwd: app, encoding: 'utf8', timeout: 120_000, env: userEnv({ DATABASE_URL: db.url }) });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
  }, 150_000);
});
