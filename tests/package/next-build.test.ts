/**
 * A user's Next.js app, outside the repository, with pg-conveyor installed from its tarball: the
 * README's three-line cron route is built by `next build` (Turbopack, TypeScript, the README's
 * next.config) and served by `next start`, then called as Vercel Cron would.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  write('package.json', JSON.stringify({ name: 'a-next-app', private: true }));
  execFileSync(
    'npm',
    [
      'install',
      path.join(app, packed.trim().split('\n').pop()!),
      `next@${version('next')}`,
      `react@${version('react')}`,
      `react-dom@${version('react-dom')}`,
      `typescript@${version('typescript')}`,
      `@types/react@${version('@types/react')}`,
      `@types/node@${version('@types/node')}`,
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
    ],
    { cwd: app, stdio: 'inherit' },
  );
  // As the README says: pg and pg-conveyor stay plain Node modules on the server.
  write('next.config.mjs', `export default { serverExternalPackages: ['pg', 'pg-conveyor'] };\n`);
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
  }, 300_000);

  it('serves the cron route: 401 without the secret, drains with it', async () => {
    const port = await freePort();
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
});
