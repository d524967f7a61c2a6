/**
 * The public API's trust boundary: API keys per project, tenant isolation, rate limits and quotas,
 * and the ADMIN API that manages keys. Each refused request is checked to have written nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { POST as ingestRoute } from '../../app/api/ingest/route';
import { GET as jobStatusRoute } from '../../app/api/jobs/[jobId]/route';
import { GET as searchRoute } from '../../app/api/search/route';
import { POST as login } from '../../app/api/auth/login/route';
import { GET as listKeys, POST as createKey } from '../../app/api/admin/api-keys/route';
import { POST as revokeKey } from '../../app/api/admin/api-keys/revoke/route';
import { POST as createProjectRoute } from '../../app/api/admin/projects/route';
import { GET as ingestionWorker } from '../../app/api/workers/ingestion/route';
import { GET as vectorizationWorker } from '../../app/api/workers/vectorization/route';
import { GET as cleanupWorker } from '../../app/api/workers/cleanup/route';
import { createUser, type Role } from '@/lib/auth/users';
import { connections } from '@/lib/db/client';
import { cronRequest, projectKey, useAppDatabase } from '../helpers/app-env';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

let openai: FakeOpenAI;
beforeAll(async () => {
  openai = await startFakeOpenAI();
  process.env.EMBEDDING_BASE_URL = openai.baseURL;
});
afterAll(async () => openai.close());

const db = useAppDatabase({
  SESSION_SECRET: 'k'.repeat(40),
  NODE_ENV: 'test',
  CRON_SECRET: 'cron',
  EMBEDDING_PROVIDER: 'openai',
  EMBEDDING_API_KEY: 'test',
  WORKER_BUDGET_MS: '20000',
});
const count = async (sql: string, params: unknown[] = []) => (await db.current.pool.query(sql, params)).rows[0].n as number;
const writes = async () => ({
  projects: await count('SELECT count(*)::int AS n FROM projects'),
  ingestJobs: await count('SELECT count(*)::int AS n FROM ingest_jobs'),
  jobs: await count('SELECT count(*)::int AS n FROM job_queue'),
  usage: await count('SELECT coalesce(sum(used), 0)::int AS n FROM api_key_usage'),
  lastUsed: await count('SELECT count(last_used_at)::int AS n FROM api_keys'),
});

const auth = (key?: string): Record<string, string> => (key === undefined ? {} : { authorization: `Bearer ${key}` });
const ingest = (key: string | undefined, body: unknown = { records: [{ content: 'a record' }], generateEmbeddings: false }, query = '') =>
  ingestRoute(
    new Request(`http://localhost/api/ingest${query}`, {
      method: 'POST',
      headers: { ...auth(key), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  );
const status = (key: string | undefined, jobId: string) =>
  jobStatusRoute(new Request(`http://localhost/api/jobs/${jobId}`, { headers: auth(key) }), { params: Promise.resolve({ jobId }) });
const search = (key: string | undefined, q: string) =>
  searchRoute(new Request(`http://localhost/api/search?q=${encodeURIComponent(q)}&limit=5`, { headers: auth(key) }));

beforeEach(async () => {
  await db.current.pool.query('TRUNCATE job_queue, projects, users, workflow_runs CASCADE');
  openai.requests.length = 0;
});

describe('API keys on the public routes', () => {
  it('a missing, malformed, wrong or revoked key: 401 on every route, and nothing written', async () => {
    const key = await projectKey(db.current.pool, 'acme');
    const { jobId } = await (await ingest(key.key)).json();
    await db.current.pool.query('UPDATE api_keys SET last_used_at = NULL');
    await db.current.pool.query('DELETE FROM api_key_usage');
    const before = await writes();
    const wrongSecret = `${key.prefix}_${'A'.repeat(43)}`;
    const revoked = await projectKey(db.current.pool, 'gone');
    await db.current.pool.query('UPDATE api_keys SET revoked_at = now() WHERE prefix = $1', [revoked.prefix]);
    for (const presented of [undefined, '', 'cvk_nope', wrongSecret, `${key.key}x`, revoked.key]) {
      for (const response of [await ingest(presented), await status(presented, jobId), await search(presented, 'a')]) {
        expect(response.status, String(presented)).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="conveyor"');
        expect((await response.json()).error).toMatch(/API key/);
      }
    }
    // A key sent as something other than a bearer token is no key.
    const basic = await ingestRoute(new Request('http://localhost/api/ingest', { method: 'POST', headers: { authorization: `Basic ${key.key}` }, body: '{}' }));
    expect(basic.status).toBe(401);
    expect(await writes()).toEqual({ ...before, projects: before.projects + 1 }); // + the 'gone' project made above
    expect(openai.requests).toHaveLength(0);
  });

  it("another project's ingestion answers 404, and search sees only the key's own records", async () => {
    const acme = await projectKey(db.current.pool, 'acme');
    const rival = await projectKey(db.current.pool, 'rival');
    const mine = await (await ingest(acme.key, { records: [{ content: 'acme secret plans about foxes' }], generateEmbeddings: true })).json();
    const theirs = await (await ingest(rival.key, { records: [{ content: 'rival secret plans about foxes' }], generateEmbeddings: true })).json();
    expect(mine.projectId).toBe(acme.projectId);
    expect(theirs.projectId).toBe(rival.projectId);
    expect((await ingestionWorker(cronRequest('/api/workers/ingestion', 'cron'))).status).toBe(200);
    expect((await vectorizationWorker(cronRequest('/api/workers/vectorization', 'cron'))).status).toBe(200);
    expect(await count('SELECT count(*)::int AS n FROM embeddings')).toBe(2);

    expect((await status(acme.key, mine.jobId)).status).toBe(200);
    const foreign = await status(acme.key, theirs.jobId);
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toEqual({ error: `Ingestion ${theirs.jobId} not found` });
    const hits = (await (await search(acme.key, 'secret plans about foxes')).json()).results as { content: string }[];
    expect(hits.map((h) => h.content)).toEqual(['acme secret plans about foxes']);
    const rivalHits = (await (await search(rival.key, 'secret plans about foxes')).json()).results as { content: string }[];
    expect(rivalHits.map((h) => h.content)).toEqual(['rival secret plans about foxes']);
  });

  it('projects are never made by an API call: a project named in the body, the query or search is refused', async () => {
    const key = await projectKey(db.current.pool, 'acme');
    const before = await writes();
    const named = await ingest(key.key, { project: 'brand-new', records: [{ content: 'a' }] });
    expect(named.status).toBe(400);
    expect(await named.json()).toMatchObject({ issues: [{ path: 'project', message: expect.stringMatching(/implies its project/) }] });
    const csv = await ingestRoute(
      new Request('http://localhost/api/ingest?project=brand-new', {
        method: 'POST',
        headers: { ...key.headers, 'content-type': 'text/csv' },
        body: 'content\nhello\n',
      }),
    );
    expect(csv.status).toBe(400);
    expect((await csv.json()).error).toMatch(/Unknown query parameter "project"/);
    const searched = await searchRoute(new Request(`http://localhost/api/search?projectId=${key.projectId}&q=a`, { headers: key.headers }));
    expect(searched.status).toBe(400);
    const after = await writes();
    expect({ ...after, usage: before.usage, lastUsed: before.lastUsed }).toEqual(before);
    expect(after.projects).toBe(1);
  });

  it('records the last use of a key', async () => {
    const key = await projectKey(db.current.pool, 'acme');
    const lastUsed = async () => (await db.current.pool.query('SELECT last_used_at FROM api_keys')).rows[0].last_used_at as Date | null;
    expect(await lastUsed()).toBeNull();
    expect((await status(key.key, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const first = await lastUsed();
    expect(first).toBeInstanceOf(Date);
    // Not rewritten on every request: once a minute is enough to tell a live key from a dead one.
    await status(key.key, '00000000-0000-4000-8000-000000000000');
    expect(await lastUsed()).toEqual(first);
  });
});

describe('rate limits and quotas per key', () => {
  it('requests per minute: 429 with Retry-After past the limit, and the refused request writes nothing', async () => {
    const key = await projectKey(db.current.pool, 'acme', { requestsPerMinute: 3 });
    for (let i = 0; i < 3; i++) expect((await status(key.key, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const before = await writes();
    const refused = await ingest(key.key);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await refused.json()).error).toBe('Limit of 3 requests per minute reached');
    expect(await writes()).toEqual(before);
    // Another key of the same project has its own allowance.
    const other = await projectKey(db.current.pool, 'other', { requestsPerMinute: 3 });
    expect((await ingest(other.key)).status).toBe(202);
  });

  it('the limit holds for requests sent at once: 20 concurrent requests on a limit of 5 let exactly 5 through', async () => {
    const key = await projectKey(db.current.pool, 'acme', { requestsPerMinute: 5 });
    const responses = await Promise.all(Array.from({ length: 20 }, () => status(key.key, '00000000-0000-4000-8000-000000000000')));
    const codes = responses.map((r) => r.status).sort();
    expect(codes.filter((c) => c === 404)).toHaveLength(5);
    expect(codes.filter((c) => c === 429)).toHaveLength(15);
    expect(await count(`SELECT used AS n FROM api_key_usage WHERE meter = 'requests'`)).toBe(5);
  });

  it('records per day: a submission past the quota is refused whole (429), one larger than the quota is a 400', async () => {
    const key = await projectKey(db.current.pool, 'acme', { recordsPerDay: 10 });
    const six = { records: Array.from({ length: 6 }, (_, i) => ({ content: `r${i}` })), generateEmbeddings: false };
    expect((await ingest(key.key, six)).status).toBe(202);
    const before = await writes();
    const refused = await ingest(key.key, six);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect((await refused.json()).error).toBe('Limit of 10 records per day reached');
    const tooBig = await ingest(key.key, { records: Array.from({ length: 11 }, () => ({ content: 'x' })), generateEmbeddings: false });
    expect(tooBig.status).toBe(400);
    expect((await tooBig.json()).error).toMatch(/needs 11 records, more than this key's limit of 10/);
    const after = await writes();
    // Only the request meter moved (two requests); no ingestion, no job, no records quota taken.
    expect(after).toEqual({ ...before, usage: before.usage + 2 });
    expect(await count(`SELECT used AS n FROM api_key_usage WHERE meter = 'records'`)).toBe(6);
    expect((await ingest(key.key, { records: six.records.slice(0, 4), generateEmbeddings: false })).status).toBe(202);
  });

  it('embeddings per day: a search is one paid call; past the quota it is refused before the call is made', async () => {
    const key = await projectKey(db.current.pool, 'acme', { embeddingsPerDay: 3 });
    const embedded = await ingest(key.key, { records: [{ content: 'one' }, { content: 'two' }], generateEmbeddings: true });
    expect(embedded.status).toBe(202);
    expect((await search(key.key, 'one')).status).toBe(200);
    expect(openai.requests).toHaveLength(1);
    const refused = await search(key.key, 'two');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(openai.requests).toHaveLength(1);
    // Records to embed count too: two more would pass the quota, so the ingestion is refused whole.
    expect((await ingest(key.key, { records: [{ content: 'three' }, { content: 'four' }], generateEmbeddings: true })).status).toBe(429);
    expect(await count('SELECT count(*)::int AS n FROM ingest_jobs')).toBe(1);
  });

  it('records quota under 20 concurrent submissions of one key: exactly the limit is granted, refused ones are charged nothing', async () => {
    const key = await projectKey(db.current.pool, 'acme', { recordsPerDay: 30, embeddingsPerDay: 12 });
    const three = (generateEmbeddings: boolean) => ({ records: [{ content: 'a' }, { content: 'b' }, { content: 'c' }], generateEmbeddings });
    const codes = (await Promise.all(Array.from({ length: 20 }, () => ingest(key.key, three(false))))).map((r) => r.status);
    expect(codes.filter((c) => c === 202)).toHaveLength(10);
    expect(codes.filter((c) => c === 429)).toHaveLength(10);
    expect(await count(`SELECT used AS n FROM api_key_usage WHERE meter = 'records'`)).toBe(30);
    expect(await count('SELECT count(*)::int AS n FROM ingest_jobs')).toBe(10);

    // Embeddings run out first: a submission refused for them gives its records back.
    const other = await projectKey(db.current.pool, 'beta', { recordsPerDay: 30, embeddingsPerDay: 12 });
    const withEmbeddings = (await Promise.all(Array.from({ length: 10 }, () => ingest(other.key, three(true))))).map((r) => r.status);
    expect(withEmbeddings.filter((c) => c === 202)).toHaveLength(4);
    const used = async (meter: string) =>
      count(`SELECT coalesce(sum(u.used), 0)::int AS n FROM api_key_usage u JOIN api_keys k ON k.id = u.api_key_id WHERE k.prefix = $1 AND u.meter = $2`, [
        other.prefix,
        meter,
      ]);
    expect(await used('embeddings')).toBe(12);
    expect(await used('records')).toBe(12);
  });

  it('a submission that fails after its quota was taken gives the quota back and leaves nothing', async () => {
    const key = await projectKey(db.current.pool, 'acme', { recordsPerDay: 100 });
    await db.current.pool.query(`CREATE OR REPLACE FUNCTION refuse_seven() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.total_records = 7 THEN RAISE EXCEPTION 'the disk is full'; END IF; RETURN NEW; END $$`);
    await db.current.pool.query('CREATE TRIGGER refuse_seven BEFORE INSERT ON ingest_jobs FOR EACH ROW EXECUTE FUNCTION refuse_seven()');
    try {
      expect((await ingest(key.key, { records: Array.from({ length: 5 }, () => ({ content: 'x' })), generateEmbeddings: false })).status).toBe(202);
      const failed = await ingest(key.key, { records: Array.from({ length: 7 }, () => ({ content: 'x' })), generateEmbeddings: false });
      expect(failed.status).toBe(500);
      expect(await count(`SELECT used AS n FROM api_key_usage WHERE meter = 'records'`)).toBe(5);
      expect(await count('SELECT count(*)::int AS n FROM ingest_jobs')).toBe(1);
      expect(await count('SELECT count(*)::int AS n FROM workflow_runs')).toBe(1);
    } finally {
      await db.current.pool.query('DROP TRIGGER refuse_seven ON ingest_jobs');
    }
  });

  it('the cleanup worker deletes usage windows that ended more than a day ago', async () => {
    const key = await projectKey(db.current.pool, 'acme');
    await status(key.key, '00000000-0000-4000-8000-000000000000');
    await db.current.pool.query(
      `INSERT INTO api_key_usage (api_key_id, meter, window_start, used)
       SELECT id, 'records', now() - interval '3 days', 7 FROM api_keys`,
    );
    const response = await cleanupWorker(cronRequest('/api/workers/cleanup', 'cron'));
    expect(await response.json()).toMatchObject({ success: true, usageWindowsDeleted: 1 });
    expect(await count('SELECT count(*)::int AS n FROM api_key_usage')).toBe(1);
  });
});

describe('ADMIN API for projects and keys', () => {
  const cookies: Partial<Record<Role, string>> = {};
  beforeEach(async () => {
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
  const as = (role: Role | null, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    new Request(`http://localhost${path}`, {
      method: body === undefined && !path.includes('revoke') ? 'GET' : 'POST',
      headers: { ...(role ? { cookie: cookies[role]! } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it('only ADMIN lists, creates and revokes; a new key is shown once and works at once; revoking stops it at once', async () => {
    expect((await listKeys(as(null, '/api/admin/api-keys'))).status).toBe(401);
    expect((await listKeys(as('VIEWER', '/api/admin/api-keys'))).status).toBe(403);
    expect((await listKeys(as('MANAGER', '/api/admin/api-keys'))).status).toBe(403);
    expect((await createProjectRoute(as('MANAGER', '/api/admin/projects', { name: 'acme' }))).status).toBe(403);
    expect(await count('SELECT count(*)::int AS n FROM projects')).toBe(0);

    const made = await createProjectRoute(as('ADMIN', '/api/admin/projects', { name: 'acme' }));
    expect(made.status).toBe(201);
    const { project } = await made.json();
    expect((await createProjectRoute(as('ADMIN', '/api/admin/projects', { name: 'acme' }))).status).toBe(409);
    expect((await createKey(as('MANAGER', '/api/admin/api-keys', { projectId: project.id, name: 'x' }))).status).toBe(403);

    const created = await createKey(as('ADMIN', '/api/admin/api-keys', { projectId: project.id, name: 'importer', limits: { requestsPerMinute: 30 } }));
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const { key, apiKey } = await created.json();
    expect(key).toMatch(/^cvk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toMatchObject({
      projectName: 'acme',
      name: 'importer',
      prefix: key.slice(0, 16),
      limits: { requestsPerMinute: 30, recordsPerDay: 100_000 },
    });
    // Stored hashed: neither the list nor the table holds the key.
    const listed = await (await listKeys(as('ADMIN', '/api/admin/api-keys'))).json();
    expect(JSON.stringify(listed)).not.toContain(key.slice(17));
    expect(listed.keys).toHaveLength(1);
    expect(listed.projects).toMatchObject([{ name: 'acme', activeKeys: 1 }]);
    const { rows } = await db.current.pool.query(`SELECT encode(secret_hash, 'hex') AS h, created_by FROM api_keys`);
    expect(rows[0].h).not.toContain(Buffer.from(key).toString('hex'));
    expect(rows[0].created_by).toEqual(expect.any(String));

    expect((await ingest(key)).status).toBe(202);
    expect((await revokeKey(as('MANAGER', `/api/admin/api-keys/revoke?id=${apiKey.id}`))).status).toBe(403);
    const revoked = await revokeKey(as('ADMIN', `/api/admin/api-keys/revoke?id=${apiKey.prefix}`));
    expect(revoked.status).toBe(200);
    expect((await revoked.json()).apiKey.revokedAt).toEqual(expect.any(String));
    expect((await ingest(key)).status).toBe(401);
    expect((await revokeKey(as('ADMIN', `/api/admin/api-keys/revoke?id=${apiKey.prefix}`))).status).toBe(404);
  });

  it('a cross-site request and bad input are refused and write nothing', async () => {
    const crossSite = await createProjectRoute(
      as('ADMIN', '/api/admin/projects', { name: 'evil' }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }),
    );
    expect(crossSite.status).toBe(403);
    const project = (await (await createProjectRoute(as('ADMIN', '/api/admin/projects', { name: 'acme' }))).json()).project;
    for (const body of [
      { projectId: project.id, name: '' },
      { projectId: 'not-a-uuid', name: 'x' },
      { projectId: project.id, name: 'x', limits: { requestsPerMinute: -1 } },
      { projectId: project.id, name: 'x', extra: true },
    ]) {
      const response = await createKey(as('ADMIN', '/api/admin/api-keys', body));
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await response.json()).issues).toEqual(expect.any(Array));
    }
    expect((await createKey(as('ADMIN', '/api/admin/api-keys', { projectId: '00000000-0000-4000-8000-000000000000', name: 'x' }))).status).toBe(404);
    const crossSiteKey = await createKey(as('ADMIN', '/api/admin/api-keys', { projectId: project.id, name: 'x' }, { 'sec-fetch-site': 'cross-site' }));
    expect(crossSiteKey.status).toBe(403);
    expect(await count('SELECT count(*)::int AS n FROM api_keys')).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM projects')).toBe(1);
  });
});
