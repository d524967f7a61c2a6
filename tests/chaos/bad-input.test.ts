/**
 * Bad input, everywhere at once: every one gets a clear 4xx or a typed error, nothing is written,
 * no 500 carries a stack trace, and valid jobs keep flowing afterwards.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { POST as ingest } from '../../app/api/ingest/route';
import { GET as jobStatus } from '../../app/api/jobs/[jobId]/route';
import { GET as search } from '../../app/api/search/route';
import { POST as login } from '../../app/api/auth/login/route';
import { GET as adminJobs } from '../../app/api/admin/queue/jobs/route';
import { GET as failedList } from '../../app/api/admin/queue/failed/route';
import { POST as retry } from '../../app/api/admin/queue/retry/route';
import { GET as ingestionWorker } from '../../app/api/workers/ingestion/route';
import { createUser } from '@/lib/auth/users';
import { connections } from '@/lib/db/client';
import { QueueError } from 'pg-conveyor';
import { cronRequest, projectKey, useAppDatabase } from '../helpers/app-env';
import { countJobs } from '../../packages/pg-conveyor/test/helpers/jobs';

const db = useAppDatabase({ SESSION_SECRET: 'b'.repeat(40), NODE_ENV: 'test', CRON_SECRET: 'c' });
let cookie = '';
let key: Awaited<ReturnType<typeof projectKey>>;

beforeAll(async () => {
  await createUser(connections().pool, { email: 'a@example.com', password: 'admin-password', role: 'ADMIN' });
  const response = await login(
    new Request('http://localhost/api/auth/login', { method: 'POST', body: JSON.stringify({ email: 'a@example.com', password: 'admin-password' }) }),
  );
  cookie = response.headers.get('set-cookie')!.split(';')[0]!;
  key = await projectKey(connections().pool, 'bad-input');
});

const post = (body: string, type = 'application/json') =>
  ingest(new Request('http://localhost/api/ingest', { method: 'POST', headers: { ...key.headers, 'content-type': type }, body }));
const apiGet = (path: string) => new Request(`http://localhost${path}`, { headers: key.headers });
const admin = (path: string, init: RequestInit = {}) => new Request(`http://localhost${path}`, { ...init, headers: { cookie } });
const SQLI = '1;DROP TABLE job_queue;--';

describe('bad input battery', () => {
  it('HTTP: every bad request is a 4xx with a reason, never a 500, and writes nothing', async () => {
    const responses: [string, Response][] = [
      ['malformed JSON', await post('{"records":')],
      ['wrong types', await post(JSON.stringify({ generateEmbeddings: ['x'], records: { a: 1 } }))],
      ['a project named in the body', await post(JSON.stringify({ project: 'someone-else', records: [{ content: 'a' }] }))],
      ['2 MB payload', await post(JSON.stringify({ records: [{ content: 'z'.repeat(2 * 1024 * 1024) }] }))],
      ['NUL in content', await post(JSON.stringify({ records: [{ content: 'a\u0000b' }] }))],
      ['NUL in metadata', await post(JSON.stringify({ records: [{ content: 'ok', note: 'a\u0000b' }] }))],
      ['lone surrogate', await post('{"records":[{"content":"\\ud800"}]}')],
      ['too many records', await post(JSON.stringify({ records: Array.from({ length: 10_001 }, () => ({ content: 'a' })) }))],
      ['unknown field', await post(JSON.stringify({ records: [{ content: 'a' }], jobType: 'EVIL', priority: 999999 }))],
      ['bad CSV', await post('content\n"unterminated', 'text/csv')],
      ['SQL in a job id', await jobStatus(apiGet('/api/jobs/x'), { params: Promise.resolve({ jobId: SQLI }) })],
      ['search without a query', await search(apiGet('/api/search?limit=3'))],
      ['search naming a project', await search(apiGet('/api/search?projectId=00000000-0000-4000-8000-000000000000&q=x'))],
      ['search limit huge', await search(apiGet('/api/search?q=x&limit=100000'))],
      ['search limit negative', await search(apiGet('/api/search?q=x&limit=-5'))],
      [
        'ingest without a key',
        await ingest(
          new Request('http://localhost/api/ingest', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"records":[{"content":"a"}]}',
          }),
        ),
      ],
      ['admin list limit huge', await adminJobs(admin('/api/admin/queue/jobs?limit=99999999'))],
      ['admin list negative', await adminJobs(admin('/api/admin/queue/jobs?limit=-1'))],
      ['admin list bad status', await adminJobs(admin(`/api/admin/queue/jobs?status=${encodeURIComponent(SQLI)}`))],
      ['admin list bad type', await adminJobs(admin(`/api/admin/queue/jobs?type=${encodeURIComponent(SQLI)}`))],
      ['failed list bad cursor', await failedList(admin('/api/admin/queue/failed?cursor=garbage'))],
      ['retry SQL id', await retry(admin(`/api/admin/queue/retry?jobId=${encodeURIComponent(SQLI)}`, { method: 'POST' }))],
      ['unicode id', await retry(admin(`/api/admin/queue/retry?jobId=${encodeURIComponent('ジョブ🚀')}`, { method: 'POST' }))],
      [
        'login with a huge body',
        await login(new Request('http://localhost/api/auth/login', { method: 'POST', body: JSON.stringify({ email: 'x', password: 'p'.repeat(50_000) }) })),
      ],
    ];
    for (const [name, response] of responses) {
      const text = await response.text();
      expect(response.status, `${name}: ${text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      expect(response.status, name).toBeLessThan(500);
      expect(text, name).not.toMatch(/\n\s+at .+:\d+:\d+/);
      expect(JSON.parse(text).error, name).toEqual(expect.any(String));
    }
    expect(await countJobs(db.current.pool)).toBe(0);
    expect((await db.current.pool.query('SELECT count(*)::int AS n FROM ingest_jobs')).rows[0].n).toBe(0);
  });

  it('library: typed errors for bad arguments; unknown types at top priority do not block valid jobs', async () => {
    const { queue } = connections();
    const attempts: (() => Promise<unknown>)[] = [
      () => queue.enqueue({ jobType: SQLI }),
      () => queue.enqueue({ jobType: 'X', priority: Number.POSITIVE_INFINITY }),
      () => queue.enqueue({ jobType: 'X', maxAttempts: -1 }),
      () => queue.enqueue({ jobType: 'X', payload: { s: '\u0000' } }),
      () => queue.enqueueMany('not an array' as never),
      () => queue.claimJobs(['X'], -1),
      () => queue.claimJobs(['X'], 1e9),
      () => queue.listJobs({ limit: 1e9 }),
      () => queue.cleanup(-3),
      () => queue.getJob(SQLI),
      () => queue.updateProgress('00000000-0000-4000-8000-000000000000', Number.NaN, 1),
    ];
    for (const attempt of attempts) await expect(attempt()).rejects.toBeInstanceOf(QueueError);
    expect(await countJobs(db.current.pool)).toBe(0);

    // A flood of jobs nobody handles, at the highest priority, and one real ingestion.
    await queue.enqueueMany(Array.from({ length: 500 }, () => ({ jobType: 'UNKNOWN_TYPE', priority: 1_000_000 })));
    const ok = await post(JSON.stringify({ records: [{ content: 'valid record' }], generateEmbeddings: false }));
    expect(ok.status).toBe(202);
    expect(await (await ingestionWorker(cronRequest('/api/workers/ingestion', 'c'))).json()).toMatchObject({ success: true, processed: 1 });
    expect(await countJobs(db.current.pool, "job_type = 'workflow:ingestion' AND status = 'COMPLETED'")).toBe(1);
    expect((await db.current.pool.query(`SELECT status FROM workflow_runs`)).rows).toEqual([{ status: 'COMPLETED' }]);
  });
});
