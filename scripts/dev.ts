/**
 * `npm run dev`: the product, locally. Starts (or reuses) the embedded Postgres, migrates it, runs
 * the Next.js app on it and the worker loop (run-workers.sh, standing in for Vercel Cron) against
 * the app. Ctrl-C stops both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { resolveDatabaseUrl } from './db/local-postgres.mjs';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { authenticateApiKey, createApiKey } from '../src/lib/auth/api-keys';
import { createUser } from '../src/lib/auth/users';
import { createProject, findProject } from '../src/lib/ingestion/projects';
import { migrate } from '../src/lib/db/migrations';

const root = path.resolve(import.meta.dirname, '..');
const databaseUrl = await resolveDatabaseUrl();
await migrate({ connectionString: databaseUrl, log: (line) => console.log(`dev: migrate: ${line}`) });

const adminLogin = await ensureDevAdmin(databaseUrl);
const devKey = await ensureDevApiKey(databaseUrl);
const port = await freePort(Number(process.env.PORT ?? 3000));
const baseUrl = `http://localhost:${port}`;
// The worker routes refuse to run without CRON_SECRET (fail closed): the app and its worker loop
// share one made up for this run unless one is set.
const cronSecret = process.env.CRON_SECRET || randomBytes(32).toString('base64url');
const env = { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), CRON_SECRET: cronSecret };
const children: ChildProcess[] = [];

const app = spawn(path.join(root, 'node_modules/.bin/next'), ['dev', '-p', String(port)], { cwd: root, env, stdio: 'inherit' });
children.push(app);
app.on('exit', (code) => shutdown(code ?? 1));

await waitForHttp(`${baseUrl}/`, 120_000);
const workers = spawn(path.join(root, 'run-workers.sh'), ['--interval', process.env.WORKER_INTERVAL ?? '2'], {
  cwd: root,
  env: { ...env, BASE_URL: baseUrl },
  stdio: ['ignore', 'ignore', 'inherit'], // one line per call every 2 s would drown the app's log
});
children.push(workers);
console.log(`
  Conveyor is running: ${baseUrl}
  - submit records, watch them being stored and embedded, then search, with the API key of project
    "${devKey.projectName}" (made for this machine, kept in .data/dev-api-key.json; more with npm run api-key):
      ${devKey.key}
    or from a shell:
      export CONVEYOR_KEY=${devKey.key}
      curl -X POST ${baseUrl}/api/ingest -H "Authorization: Bearer $CONVEYOR_KEY" -H 'content-type: application/json' -d '{"records":[{"content":"The red fox jumps over the lazy dog"},{"content":"File your taxes online"}]}'
      curl -H "Authorization: Bearer $CONVEYOR_KEY" ${baseUrl}/api/jobs/<jobId from the answer>
      curl -H "Authorization: Bearer $CONVEYOR_KEY" "${baseUrl}/api/search?q=fox"
  - queue monitor: ${baseUrl}/admin/queue-monitor${adminLogin ? `\n    sign in as ${adminLogin.email} / ${adminLogin.password} (made for this machine; npm run user:create for others)` : ''}
  - the worker loop calls /api/workers/{ingestion,vectorization} every ${process.env.WORKER_INTERVAL ?? '2'} s
  - database: ${databaseUrl}
  Ctrl-C stops the app and the workers (the database keeps running: npm run db:stop).
`);

let stopping = false;
function shutdown(code = 0): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 500).unref();
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

/** A first admin for a fresh local database, so the monitor can be opened at once. */
async function ensureDevAdmin(connectionString: string): Promise<{ email: string; password: string } | null> {
  const saved = path.join(root, '.data', 'dev-admin.json');
  const pool = new pg.Pool({ connectionString, max: 1 });
  try {
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM users');
    if (rows[0].n > 0) return existsSync(saved) ? JSON.parse(readFileSync(saved, 'utf8')) : null;
    const login = { email: 'admin@localhost.test', password: randomBytes(9).toString('base64url') };
    await createUser(pool, { ...login, role: 'ADMIN' });
    writeFileSync(saved, JSON.stringify(login), { mode: 0o600 });
    return login;
  } finally {
    await pool.end();
  }
}

/**
 * A first project and API key for a fresh local database, so the API can be called at once. The
 * key is kept in .data (the database's own folder) because the database keeps only its hash.
 */
async function ensureDevApiKey(connectionString: string): Promise<{ key: string; projectName: string }> {
  const saved = path.join(root, '.data', 'dev-api-key.json');
  const pool = new pg.Pool({ connectionString, max: 1 });
  try {
    if (existsSync(saved)) {
      const previous = JSON.parse(readFileSync(saved, 'utf8')) as { key: string };
      const principal = await authenticateApiKey(pool, previous.key);
      if (principal) return { key: previous.key, projectName: principal.projectName };
    }
    const project = (await findProject(pool, 'demo')) ?? (await createProject(pool, 'demo'));
    const { key } = await createApiKey(pool, { projectId: project.id, name: 'npm run dev' });
    writeFileSync(saved, JSON.stringify({ key }), { mode: 0o600 });
    return { key, projectName: project.name };
  } finally {
    await pool.end();
  }
}

async function freePort(preferred: number): Promise<number> {
  for (let candidate = preferred; candidate < preferred + 50; candidate++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false));
      server.listen(candidate, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return candidate;
  }
  throw new Error(`No free port from ${preferred} to ${preferred + 49}`);
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`The app did not answer at ${url} within ${timeoutMs / 1000} s`);
}
