/**
 * The console's search and bulk-action APIs: who may call them, the requests an attacker would
 * send, bad input as 400s that change nothing, and a bulk retry from dry run to done with its
 * audit row. (GET on the bulk route answering 405 is checked against the real server in e2e.)
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { POST as login } from '../../app/api/auth/login/route';
import { GET as jobs } from '../../app/api/admin/queue/jobs/route';
import { POST as bulk } from '../../app/api/admin/queue/bulk/route';
import { GET as bulkActions } from '../../app/api/admin/queue/bulk-actions/route';
import { createUser, type Role } from '@/lib/auth/users';
import { connections } from '@/lib/db/client';
import { useAppDatabase } from '../helpers/app-env';
import { countJobs, insertJob } from '../../packages/pg-conveyor/test/helpers/jobs';

const db = useAppDatabase({ SESSION_SECRET: 'x'.repeat(40), NODE_ENV: 'test' });
const cookies: Partial<Record<Role, string>> = {};

beforeAll(async () => {
  for (const role of ['VIEWER', 'MANAGER', 'ADMIN'] as const) {
    await createUser(connections().pool, { email: `${role.toLowerCase()}@example.com`, password: `${role}-password-123`, role });
    const response = await login(
      new Request('http://localhost/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `${role.toLowerCase()}@example.com`, password: `${role}-password-123` }),
      }),
    );
    cookies[role] = response.headers.get('set-cookie')!.split(';')[0]!;
  }
});
beforeEach(async () => {
  await db.current.pool.query('DELETE FROM job_queue; DELETE FROM job_bulk_actions');
});

const get = (role: Role | null, url: string) => new Request(`http://localhost${url}`, { headers: role ? { cookie: cookies[role]! } : {} });
const postBulk = (role: Role | null, body: unknown, headers: Record<string, string> = {}) =>
  bulk(
    new Request('http://localhost/api/admin/queue/bulk', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(role ? { cookie: cookies[role]! } : {}), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );

async function failedJobs(n: number, jobType: string) {
  await db.current.pool.query(
    `INSERT INTO job_queue (job_type, status, payload, attempts, started_at, completed_at, errors)
     SELECT $1, 'FAILED', jsonb_build_object('n', g), 1, now(), now(),
            jsonb_build_array(jsonb_build_object('attempt', 1, 'at', now(), 'message', 'relay down', 'kind', 'error'))
       FROM generate_series(1, $2::int) g`,
    [jobType, n],
  );
}

describe('GET /api/admin/queue/jobs (search)', () => {
  it('VIEWER finds a job by payload path, id prefix and error text; pages by cursor; bad filters are 400', async () => {
    const wanted = await insertJob(db.current.pool, { jobType: 'INVOICE', payload: { customerId: 42 } });
    for (let i = 0; i < 5; i++) await insertJob(db.current.pool, { jobType: 'INVOICE', payload: { customerId: i } });
    const search = async (query: string, role: Role | null = 'VIEWER') => {
      const response = await jobs(get(role, `/api/admin/queue/jobs?${query}`));
      return { status: response.status, body: await response.json() };
    };
    expect((await search('payload=customerId%20%3D%2042')).body.jobs.map((j: { id: string }) => j.id)).toEqual([wanted]);
    expect((await search(`id=${wanted.slice(0, 34)}`)).body.jobs).toHaveLength(1);
    expect((await search('payload=customerId%20%3D%2042')).body.jobs[0]).not.toHaveProperty('payload'); // lists carry no payloads
    const page1 = await search('type=INVOICE&limit=4');
    expect(page1.body.jobs).toHaveLength(4);
    const page2 = await search(`type=INVOICE&limit=4&cursor=${page1.body.nextCursor}`);
    expect(page2.body).toMatchObject({ nextCursor: null });
    expect(page2.body.jobs).toHaveLength(2);
    expect((await search('type=INVOICE&status=&error=')).body.jobs).toHaveLength(6); // empty fields are no filter
    expect((await search('type=INVOICE', null)).status).toBe(401);
    for (const bad of ['payload=noequals', 'id=zz-not-hex', 'from=yesterday', 'status=DONE', 'cursor=abc', 'limit=0', 'sql=1']) {
      const { status, body } = await search(bad);
      expect([bad, status]).toEqual([bad, 400]);
      expect(body.error).toBeTruthy();
    }
  });
});

describe('POST /api/admin/queue/bulk', () => {
  it('ADMIN: a dry-run count, then a retry of every match (not just a page) to done, recorded in the audit log', async () => {
    await failedJobs(2_300, 'SEND_EMAIL');
    await failedJobs(40, 'OTHER');
    const filter = { type: 'SEND_EMAIL', status: 'FAILED' };
    const dry = await postBulk('ADMIN', { action: 'retry', filter, dryRun: true });
    expect(await dry.json()).toEqual({ action: 'retry', filter, matching: 2_300, complete: true });
    expect(await countJobs(db.current.pool, "status = 'FAILED'")).toBe(2_340); // the dry run changed nothing

    let answer = await (await postBulk('ADMIN', { action: 'retry', filter, confirmCount: 2_300 })).json();
    for (let i = 0; !answer.done && i < 20; i++) answer = await (await postBulk('ADMIN', { bulkId: answer.bulkId })).json();
    expect(answer).toMatchObject({ done: true, affected: 2_300, matched: 2_300, requestedBy: 'admin@example.com', action: 'retry' });
    expect(await countJobs(db.current.pool, "job_type = 'SEND_EMAIL' AND status = 'PENDING'")).toBe(2_300);
    expect(await countJobs(db.current.pool, "job_type = 'OTHER' AND status = 'FAILED'")).toBe(40);

    const log = await (await bulkActions(get('VIEWER', '/api/admin/queue/bulk-actions'))).json();
    expect(log.actions).toMatchObject([
      {
        bulkId: answer.bulkId,
        action: 'retry',
        requestedBy: 'admin@example.com',
        affected: 2_300,
        done: true,
        filter: { jobType: 'SEND_EMAIL', status: 'FAILED' },
      },
    ]);
  });

  it('MANAGER, VIEWER, no session and cross-site are refused; bad bodies are 400; none changes a job or writes an audit row', async () => {
    await failedJobs(10, 'SEND_EMAIL');
    const body = { action: 'retry', filter: { type: 'SEND_EMAIL' }, confirmCount: 10 };
    expect((await postBulk(null, body)).status).toBe(401);
    expect((await postBulk('VIEWER', body)).status).toBe(403);
    expect((await postBulk('MANAGER', body)).status).toBe(403);
    expect((await postBulk('MANAGER', { ...body, confirmCount: undefined, dryRun: true })).status).toBe(403);
    expect((await postBulk('ADMIN', body, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await postBulk('ADMIN', body, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    for (const bad of [
      '{not json',
      { action: 'purge', filter: {}, confirmCount: 1 },
      { action: 'retry', filter: { status: 'NOPE' }, confirmCount: 1 },
      { action: 'retry', filter: { type: 'SEND_EMAIL', sql: "'; DROP TABLE job_queue; --" }, confirmCount: 1 },
      { action: 'retry', filter: { payload: 'no equals sign' }, confirmCount: 1 },
      { action: 'retry', filter: {} },
      { action: 'delete', filter: {}, confirmCount: -1 },
      { bulkId: 'not-a-uuid' },
    ]) {
      const response = await postBulk('ADMIN', bad);
      expect([JSON.stringify(bad), response.status]).toEqual([JSON.stringify(bad), 400]);
      expect((await response.json()).error).toBeTruthy();
    }
    expect((await postBulk('ADMIN', { bulkId: '00000000-0000-7000-8000-000000000000' })).status).toBe(404);
    expect(await countJobs(db.current.pool, "status = 'FAILED'")).toBe(10);
    expect((await (await bulkActions(get('ADMIN', '/api/admin/queue/bulk-actions'))).json()).actions).toEqual([]);
    expect((await bulkActions(get(null, '/api/admin/queue/bulk-actions'))).status).toBe(401);
  });
});
