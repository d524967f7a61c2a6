import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { POST as login } from '../../app/api/auth/login/route';
import { POST as logout } from '../../app/api/auth/logout/route';
import { GET as me } from '../../app/api/auth/me/route';
import { GET as stats } from '../../app/api/admin/queue/stats/route';
import { POST as retry } from '../../app/api/admin/queue/retry/route';
import { POST as cancel } from '../../app/api/admin/queue/cancel/route';
import { GET as jobs } from '../../app/api/admin/queue/jobs/route';
import { GET as jobDetail } from '../../app/api/admin/queue/jobs/[jobId]/route';
import { GET as failed } from '../../app/api/admin/queue/failed/route';
import { GET as throughput } from '../../app/api/admin/queue/throughput/route';
import * as pauseRoute from '../../app/api/admin/queue/pause/route';
import { GET as pausedList } from '../../app/api/admin/queue/paused/route';
import { GET as schedulesGet, POST as schedulesPost } from '../../app/api/admin/queue/schedules/route';
import { GET as typesGet } from '../../app/api/admin/queue/types/route';
import { POST as limitsPost } from '../../app/api/admin/queue/limits/route';
import { createUser, type Role } from '@/lib/auth/users';
import { connections } from '@/lib/db/client';
import { useAppDatabase } from '../helpers/app-env';
import { insertJob, jobRow } from '../../packages/pg-conveyor/test/helpers/jobs';

const db = useAppDatabase({ SESSION_SECRET: 'x'.repeat(40), NODE_ENV: 'test' });
const cookies: Partial<Record<Role, string>> = {};
const UNKNOWN = '00000000-0000-7000-8000-000000000000';

async function signIn(email: string, password: string) {
  const response = await login(
    new Request('http://localhost/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    }),
  );
  return { response, cookie: response.headers.get('set-cookie')?.split(';')[0] };
}

beforeAll(async () => {
  for (const role of ['VIEWER', 'MANAGER', 'ADMIN'] as const) {
    await createUser(connections().pool, { email: `${role.toLowerCase()}@example.com`, password: `${role}-password-123`, role });
    const { response, cookie } = await signIn(`${role.toLowerCase()}@example.com`, `${role}-password-123`);
    expect(response.status).toBe(200);
    const setCookie = response.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    cookies[role] = cookie!;
  }
});
beforeEach(async () => {
  await db.current.pool.query('DELETE FROM job_queue');
});

const as = (role: Role | null, url: string, init: RequestInit = {}) =>
  new Request(`http://localhost${url}`, { ...init, headers: { ...(role ? { cookie: cookies[role]! } : {}), ...(init.headers as Record<string, string>) } });
const post = (role: Role | null, url: string, headers: Record<string, string> = {}) => as(role, url, { method: 'POST', headers });

describe('sign-in', () => {
  it('wrong password or unknown email: 401 with the same message; bad body: 400', async () => {
    const wrong = await signIn('admin@example.com', 'nope-nope-nope');
    const unknown = await signIn('ghost@example.com', 'nope-nope-nope');
    expect([wrong.response.status, unknown.response.status]).toEqual([401, 401]);
    expect(await wrong.response.json()).toEqual(await unknown.response.json());
    expect((await login(new Request('http://localhost/api/auth/login', { method: 'POST', body: '{bad' }))).status).toBe(400);
  });

  it('me and logout; a copy of the cookie stops working at sign-out', async () => {
    expect(await (await me(as('MANAGER', '/api/auth/me'))).json()).toMatchObject({ user: { email: 'manager@example.com', role: 'MANAGER' } });
    expect((await me(as(null, '/api/auth/me'))).status).toBe(401);
    expect((await me(as(null, '/api/auth/me', { headers: { cookie: 'conveyor_session=forged' } }))).status).toBe(401);
    const { cookie } = await signIn('admin@example.com', 'ADMIN-password-123');
    const copied = cookie!;
    expect((await me(new Request('http://localhost/api/auth/me', { headers: { cookie: copied } }))).status).toBe(200);
    const out = await logout(new Request('http://localhost/api/auth/logout', { method: 'POST', headers: { cookie: copied } }));
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect((await me(new Request('http://localhost/api/auth/me', { headers: { cookie: copied } }))).status).toBe(401);
    // Other sessions of the same user live on.
    expect((await me(as('ADMIN', '/api/auth/me'))).status).toBe(200);
  });

  it('a password or role change ends every session of the user', async () => {
    await createUser(connections().pool, { email: 'changing@example.com', password: 'first-password-1', role: 'MANAGER' });
    const sessions = [(await signIn('changing@example.com', 'first-password-1')).cookie!, (await signIn('changing@example.com', 'first-password-1')).cookie!];
    const ask = (cookie: string) => stats(new Request('http://localhost/api/admin/queue/stats', { headers: { cookie } }));
    for (const cookie of sessions) expect((await ask(cookie)).status).toBe(200);
    await createUser(connections().pool, { email: 'changing@example.com', password: 'second-password-2', role: 'MANAGER' });
    for (const cookie of sessions) expect((await ask(cookie)).status).toBe(401);
    const again = (await signIn('changing@example.com', 'second-password-2')).cookie!;
    expect((await ask(again)).status).toBe(200);
    await createUser(connections().pool, { email: 'changing@example.com', password: 'second-password-2', role: 'VIEWER' });
    expect((await ask(again)).status).toBe(401);
  });

  it('a session unused for SESSION_IDLE_MINUTES ends', async () => {
    const { cookie } = await signIn('manager@example.com', 'MANAGER-password-123');
    const ask = () => me(new Request('http://localhost/api/auth/me', { headers: { cookie: cookie! } }));
    expect((await ask()).status).toBe(200);
    await db.current.pool.query(
      `UPDATE user_sessions SET last_seen_at = now() - interval '31 minutes' WHERE id = (SELECT id FROM user_sessions ORDER BY created_at DESC LIMIT 1)`,
    );
    expect((await ask()).status).toBe(401);
  });
});

describe('GET /api/admin/queue/stats', () => {
  it('401 signed out, 200 for every role (VIEWER reads too) with the documented shape and no payloads', async () => {
    await insertJob(db.current.pool, { status: 'PENDING', payload: { secret: 'do-not-leak' }, createdAtOffsetS: -300, runAtOffsetS: -300 });
    await insertJob(db.current.pool, { status: 'PROCESSING' });
    await insertJob(db.current.pool, { status: 'FAILED' });
    expect((await stats(as(null, '/api/admin/queue/stats'))).status).toBe(401);
    for (const role of ['VIEWER', 'MANAGER', 'ADMIN'] as const) {
      const response = await stats(as(role, '/api/admin/queue/stats'));
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body.queueStats).toEqual({ pending: 1, processing: 1, completed: 0, failed: 1 });
      expect(body.recentJobs).toHaveLength(3);
      expect(Object.keys(body.recentJobs[0]).sort()).toEqual(
        ['attempts', 'completedAt', 'createdAt', 'id', 'jobType', 'maxAttempts', 'priority', 'progress', 'result', 'startedAt', 'status'].sort(),
      );
      expect(body.oldestPendingJob).toMatchObject({ ageMinutes: 5 });
      expect(JSON.stringify(body)).not.toContain('do-not-leak');
    }
  });
});

describe('POST retry and cancel', () => {
  it('MANAGER retries a FAILED job and ADMIN cancels a PENDING one', async () => {
    const failedId = await insertJob(db.current.pool, { status: 'FAILED' });
    const pendingId = await insertJob(db.current.pool, { status: 'PENDING' });
    const r = await retry(post('MANAGER', `/api/admin/queue/retry?jobId=${failedId}`));
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ success: true, jobId: failedId });
    expect((await jobRow(db.current.pool, failedId)).status).toBe('PENDING');
    const c = await cancel(post('ADMIN', `/api/admin/queue/cancel?jobId=${pendingId}`));
    expect(await c.json()).toEqual({ success: true, jobId: pendingId });
    expect((await jobRow(db.current.pool, pendingId)).status).toBe('CANCELLED');
  });

  it.each([
    ['retry', retry],
    ['cancel', cancel],
  ] as const)('%s: 401, 403 for VIEWER, 400 without jobId, 404 unknown, 400 malformed — nothing changes', async (_name, route) => {
    const id = await insertJob(db.current.pool, { status: 'FAILED' });
    const before = await jobRow(db.current.pool, id);
    expect((await route(post(null, `/api/admin/queue/x?jobId=${id}`))).status).toBe(401);
    expect((await route(post('VIEWER', `/api/admin/queue/x?jobId=${id}`))).status).toBe(403);
    const missing = await route(post('MANAGER', '/api/admin/queue/x'));
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ error: 'Missing jobId parameter' });
    expect((await route(post('ADMIN', `/api/admin/queue/x?jobId=${UNKNOWN}`))).status).toBe(404);
    const injected = await route(post('ADMIN', `/api/admin/queue/x?jobId=${encodeURIComponent('1;DROP TABLE job_queue;--')}`));
    expect(injected.status).toBe(400);
    expect(await jobRow(db.current.pool, id)).toEqual(before);
  });

  it('cancel of a COMPLETED job: 400 with its state', async () => {
    const id = await insertJob(db.current.pool, { status: 'COMPLETED' });
    const response = await cancel(post('ADMIN', `/api/admin/queue/cancel?jobId=${id}`));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ currentStatus: 'COMPLETED' });
  });

  it('cross-site POSTs are refused before anything happens', async () => {
    const id = await insertJob(db.current.pool, { status: 'PENDING' });
    const attempts: Record<string, string>[] = [{ 'sec-fetch-site': 'cross-site' }, { origin: 'https://evil.example' }, { 'sec-fetch-site': 'same-site' }];
    for (const headers of attempts) {
      const response = await cancel(post('ADMIN', `/api/admin/queue/cancel?jobId=${id}`, headers));
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ error: 'Cross-site request refused' });
    }
    expect((await jobRow(db.current.pool, id)).status).toBe('PENDING');
    const sameSite = await cancel(post('ADMIN', `/api/admin/queue/cancel?jobId=${id}`, { origin: 'http://localhost', 'sec-fetch-site': 'same-origin' }));
    expect(sameSite.status).toBe(200);
  });

  it('judges the Origin against APP_ORIGIN or the Host, never a client-sent X-Forwarded-Host', async () => {
    const id = await insertJob(db.current.pool, { status: 'PENDING' });
    const forged = { origin: 'https://evil.example', 'x-forwarded-host': 'evil.example' };
    expect((await cancel(post('ADMIN', `/api/admin/queue/cancel?jobId=${id}`, forged))).status).toBe(403);
    process.env.APP_ORIGIN = 'https://conveyor.example';
    try {
      for (const origin of ['http://conveyor.example', 'https://conveyor.example:8443', 'http://localhost']) {
        expect((await cancel(post('ADMIN', `/api/admin/queue/cancel?jobId=${id}`, { origin }))).status).toBe(403);
      }
      expect((await jobRow(db.current.pool, id)).status).toBe('PENDING');
      expect((await cancel(post('ADMIN', `/api/admin/queue/cancel?jobId=${id}`, { origin: 'https://conveyor.example' }))).status).toBe(200);
    } finally {
      delete process.env.APP_ORIGIN;
    }
  });

  it('a server error is a 500 without a stack trace', async () => {
    const id = await insertJob(db.current.pool, { status: 'FAILED' });
    await db.current.pool.query('ALTER TABLE job_queue RENAME TO job_queue_away');
    try {
      const response = await retry(post('ADMIN', `/api/admin/queue/retry?jobId=${id}`));
      expect(response.status).toBe(500);
      const text = await response.text();
      expect(text).toBe(JSON.stringify({ error: 'Internal server error' }));
    } finally {
      await db.current.pool.query('ALTER TABLE job_queue_away RENAME TO job_queue');
    }
  });
});

describe('job detail, lists, throughput', () => {
  it('detail carries the payload, result and error history (a big payload cut); lists filter; VIEWER and MANAGER may read', async () => {
    const id = await insertJob(db.current.pool, { status: 'FAILED', jobType: 'VECTORIZE', payload: { customerId: 42 } });
    const big = await insertJob(db.current.pool, { status: 'PENDING', payload: { blob: 'x'.repeat(50_000) } });
    const bigDetail = (await (await jobDetail(as('VIEWER', '/x'), { params: Promise.resolve({ jobId: big }) })).json()).job;
    expect(bigDetail.payload).toMatchObject({ truncated: true, size: 50_011 });
    expect(bigDetail.payload.value).toHaveLength(20_000);
    await db.current.pool.query('DELETE FROM job_queue WHERE id = $1', [big]);
    await db.current.pool.query(`UPDATE job_queue SET errors = '[{"attempt":1,"message":"boom","kind":"error","at":"2026-01-01T00:00:00Z"}]' WHERE id = $1`, [
      id,
    ]);
    await insertJob(db.current.pool, { status: 'PENDING', jobType: 'INGEST_DATA' });
    const detail = await jobDetail(as('MANAGER', `/api/admin/queue/jobs/${id}`), { params: Promise.resolve({ jobId: id }) });
    expect((await detail.json()).job).toMatchObject({
      id,
      status: 'FAILED',
      errors: [{ message: 'boom' }],
      payload: { value: { customerId: 42 }, truncated: false },
      parentId: null,
      childIds: [],
    });
    expect((await jobDetail(as('MANAGER', '/x'), { params: Promise.resolve({ jobId: UNKNOWN }) })).status).toBe(404);
    expect((await jobDetail(as('VIEWER', '/x'), { params: Promise.resolve({ jobId: id }) })).status).toBe(200);
    const list = await (await jobs(as('MANAGER', '/api/admin/queue/jobs?status=FAILED&type=VECTORIZE'))).json();
    expect(list.jobs.map((j: { id: string }) => j.id)).toEqual([id]);
    expect((await jobs(as('MANAGER', '/api/admin/queue/jobs?status=NOPE'))).status).toBe(400);
    expect((await jobs(as('MANAGER', '/api/admin/queue/jobs?limit=100000'))).status).toBe(400);
    const dead = await (await failed(as('MANAGER', '/api/admin/queue/failed?type=VECTORIZE'))).json();
    expect(dead).toMatchObject({ jobs: [{ id, lastError: 'boom' }], nextCursor: null });
    expect((await throughput(as('MANAGER', '/api/admin/queue/throughput'))).status).toBe(200);
    const week = await (await throughput(as('VIEWER', '/api/admin/queue/throughput?range=7d&type=VECTORIZE'))).json();
    expect(week).toMatchObject({ range: '7d', bucketMinutes: 60 });
    expect(week.points.reduce((n: number, p: { failed: number }) => n + p.failed, 0)).toBe(1);
    for (const bad of ['range=1y', 'type=not%20a%20type', 'minutes=5']) {
      expect((await throughput(as('VIEWER', `/api/admin/queue/throughput?${bad}`))).status).toBe(400);
    }
    expect((await throughput(as(null, '/api/admin/queue/throughput'))).status).toBe(401);
  });
});

describe('POST /api/admin/queue/pause', () => {
  const pause = (role: Role | null, body: unknown, headers: Record<string, string> = {}) =>
    pauseRoute.POST(
      as(role, '/api/admin/queue/pause', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }),
    );

  it('MANAGER pauses and resumes a type (claims skip it meanwhile); VIEWER, no session and cross-site are refused; bad bodies are 400', async () => {
    await db.current.pool.query('DELETE FROM job_type_pauses');
    const { queue } = connections();
    await queue.enqueue({ jobType: 'PAUSABLE' });
    expect((await pause('VIEWER', { jobType: 'PAUSABLE', paused: true })).status).toBe(403);
    expect((await pause(null, { jobType: 'PAUSABLE', paused: true })).status).toBe(401);
    expect((await pause('ADMIN', { jobType: 'PAUSABLE', paused: true }, { origin: 'https://evil.example' })).status).toBe(403);
    const bad = await pause('MANAGER', { jobType: 'not a type!', paused: true });
    expect(bad.status).toBe(400);
    expect((await bad.json()).issues[0].path).toBe('jobType');
    expect((await pause('MANAGER', { jobType: 'PAUSABLE' })).status).toBe(400);
    expect((await pause('MANAGER', { jobType: 'PAUSABLE', paused: 'yes' })).status).toBe(400);
    expect(await queue.pausedTypes()).toEqual([]); // nothing refused changed anything

    expect(await (await pause('MANAGER', { jobType: 'PAUSABLE', paused: true })).json()).toEqual({
      success: true,
      jobType: 'PAUSABLE',
      paused: true,
      changed: true,
    });
    expect(await queue.claimJobs(['PAUSABLE'], 1)).toEqual([]);
    const listed = await (await pausedList(as('VIEWER', '/api/admin/queue/paused'))).json();
    expect(listed.paused).toEqual([{ jobType: 'PAUSABLE', pausedAt: expect.any(String), pausedBy: 'manager@example.com' }]);
    expect('GET' in pauseRoute).toBe(false); // Next answers 405 for a method the route does not export

    expect(await (await pause('MANAGER', { jobType: 'PAUSABLE', paused: false })).json()).toMatchObject({ paused: false, changed: true });
    expect(await queue.claimJobs(['PAUSABLE'], 1)).toHaveLength(1);
  });
});

describe('/api/admin/queue/schedules', () => {
  const act = (role: Role | null, body: unknown, headers: Record<string, string> = {}) =>
    schedulesPost(
      as(role, '/api/admin/queue/schedules', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }),
    );

  it('VIEWER lists schedules with last and next run; ADMIN pauses, resumes and runs one now; MANAGER, cross-site and bad bodies are refused', async () => {
    const { queue } = connections();
    await db.current.pool.query('DELETE FROM job_schedules');
    await queue.schedules.register('nightly', { cron: '0 2 * * *', timezone: 'Europe/Berlin', jobType: 'REPORT' });
    const listed = await (await schedulesGet(as('VIEWER', '/api/admin/queue/schedules'))).json();
    expect(listed.schedules).toEqual([
      {
        name: 'nightly',
        cron: '0 2 * * *',
        timezone: 'Europe/Berlin',
        jobType: 'REPORT',
        paused: false,
        lastRunAt: null,
        lastJob: null,
        nextRunAt: expect.any(String),
      },
    ]);
    expect((await schedulesGet(as(null, '/api/admin/queue/schedules'))).status).toBe(401);

    expect((await act('MANAGER', { name: 'nightly', action: 'pause' })).status).toBe(403);
    expect((await act('ADMIN', { name: 'nightly', action: 'pause' }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await act('ADMIN', { name: 'nightly', action: 'explode' })).status).toBe(400);
    expect((await act('ADMIN', { name: 'nightly' })).status).toBe(400);
    expect((await queue.schedules.list())[0]!.paused).toBe(false);

    expect(await (await act('ADMIN', { name: 'nightly', action: 'pause' })).json()).toEqual({ success: true, name: 'nightly', action: 'pause' });
    expect((await queue.schedules.list())[0]!.paused).toBe(true);
    const run = await (await act('ADMIN', { name: 'nightly', action: 'run' })).json();
    expect((await queue.getJob(run.jobId))!.jobType).toBe('REPORT');
    expect((await act('ADMIN', { name: 'nightly', action: 'resume' })).status).toBe(200);
    expect((await act('ADMIN', { name: 'gone', action: 'run' })).status).toBe(404);
  });
});

describe('GET /api/admin/queue/types', () => {
  it('VIEWER reads per-type figures; no session is 401', async () => {
    await db.current.pool.query('DELETE FROM job_type_pauses; DELETE FROM job_type_limits');
    await insertJob(db.current.pool, { status: 'PENDING', jobType: 'TYPED' });
    const { types } = await (await typesGet(as('VIEWER', '/api/admin/queue/types'))).json();
    expect(types).toEqual([expect.objectContaining({ jobType: 'TYPED', pending: 1, processing: 0, paused: false, limits: null })]);
    expect((await typesGet(as(null, '/api/admin/queue/types'))).status).toBe(401);
  });
});

describe('POST /api/admin/queue/limits', () => {
  const limits = (role: Role | null, body: unknown, headers: Record<string, string> = {}) =>
    limitsPost(
      as(role, '/api/admin/queue/limits', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }),
    );

  it('ADMIN sets and removes a type’s limits; MANAGER, VIEWER, no session and cross-site are refused; bad bodies are 400 and change nothing', async () => {
    const body = { jobType: 'LIMITED', concurrency: 3, rate: { limit: 10, periodMs: 60_000 } };
    expect((await limits(null, body)).status).toBe(401);
    expect((await limits('VIEWER', body)).status).toBe(403);
    expect((await limits('MANAGER', body)).status).toBe(403);
    expect((await limits('ADMIN', body, { origin: 'https://evil.example' })).status).toBe(403);
    for (const bad of [
      { ...body, concurrency: 0 },
      { ...body, rate: { limit: 1 } },
      { jobType: 'LIMITED' },
      { ...body, jobType: 'bad type!' },
      { ...body, extra: 1 },
    ]) {
      const response = await limits('ADMIN', bad);
      expect(response.status).toBe(400);
      expect((await response.json()).issues.length).toBeGreaterThan(0);
    }
    const read = async () =>
      (await (await typesGet(as('VIEWER', '/api/admin/queue/types'))).json()).types.find((t: { jobType: string }) => t.jobType === 'LIMITED');
    expect(await read()).toBeUndefined();
    expect((await limits('ADMIN', body)).status).toBe(200);
    expect((await read()).limits).toEqual({ concurrency: 3, rate: { limit: 10, periodMs: 60_000 } });
    expect((await limits('ADMIN', { jobType: 'LIMITED', concurrency: null, rate: null })).status).toBe(200);
    expect(await read()).toBeUndefined();
  });
});
