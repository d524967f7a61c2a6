import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GET as ingestionRoute } from '../../app/api/workers/ingestion/route';
import { GET as vectorizationRoute } from '../../app/api/workers/vectorization/route';
import { GET as cleanupRoute } from '../../app/api/workers/cleanup/route';
import { POST as ingestRoute } from '../../app/api/ingest/route';
import { GET as jobStatusRoute } from '../../app/api/jobs/[jobId]/route';
import { cronRequest, projectKey, records, useAppDatabase } from '../helpers/app-env';
import { countJobs, insertJob } from '../../packages/pg-conveyor/test/helpers/jobs';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';

// Next's types make NODE_ENV read-only; tests switch it on purpose.
const env = process.env as Record<string, string | undefined>;
let api: FakeOpenAI;
beforeAll(async () => {
  api = await startFakeOpenAI();
  process.env.EMBEDDING_BASE_URL = api.baseURL;
});
afterAll(async () => api.close());

const db = useAppDatabase({ CRON_SECRET: 's3cret', NODE_ENV: 'test', EMBEDDING_PROVIDER: 'openai', EMBEDDING_API_KEY: 'k', WORKER_BUDGET_MS: '20000' });

let key: Awaited<ReturnType<typeof projectKey>>;
beforeEach(async () => {
  await db.current.pool.query('TRUNCATE job_queue, projects, workflow_runs CASCADE');
  key = await projectKey(db.current.pool, 'routes');
  process.env.CRON_SECRET = 's3cret';
  env.NODE_ENV = 'test';
  process.env.WORKER_BUDGET_MS = '20000';
  api.defaultDelayMs = 0;
});

const post = (body: string, contentType = 'application/json', query = '') =>
  ingestRoute(new Request(`http://localhost/api/ingest${query}`, { method: 'POST', headers: { ...key.headers, 'content-type': contentType }, body }));
const jobStatus = (jobId: string) =>
  jobStatusRoute(new Request(`http://localhost/api/jobs/${jobId}`, { headers: key.headers }), { params: Promise.resolve({ jobId }) });

describe('CRON_SECRET', () => {
  it('wrong or missing secret: 401, nothing touched', async () => {
    const id = await insertJob(db.current.pool, { jobType: 'INGEST_DATA' });
    for (const request of [
      cronRequest('/api/workers/ingestion'),
      cronRequest('/api/workers/ingestion', 'wrong'),
      new Request('http://localhost/', { headers: { authorization: 's3cret' } }),
    ]) {
      const response = await ingestionRoute(request);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ success: false, error: 'Unauthorized' });
    }
    expect((await cleanupRoute(cronRequest('/api/workers/cleanup', 'nope'))).status).toBe(401);
    expect((await db.current.pool.query('SELECT status, attempts FROM job_queue WHERE id = $1', [id])).rows[0]).toEqual({ status: 'PENDING', attempts: 0 });
  });

  it('fails closed: no secret refuses in every environment, a short one in production; only the explicit flag opens them outside production', async () => {
    await insertJob(db.current.pool, { jobType: 'INGEST_DATA', payload: { not: 'valid' } });
    delete process.env.CRON_SECRET;
    for (const [nodeEnv, flag] of [
      ['production', undefined],
      ['production', '1'],
      ['development', undefined],
      ['test', '0'],
    ] as const) {
      env.NODE_ENV = nodeEnv;
      if (flag === undefined) delete env.CONVEYOR_OPEN_WORKER_ROUTES;
      else env.CONVEYOR_OPEN_WORKER_ROUTES = flag;
      const refused = await ingestionRoute(cronRequest('/api/workers/ingestion'));
      expect(refused.status).toBe(500);
      expect(await refused.json()).toEqual({ success: false, error: 'Server misconfigured: CRON_SECRET is not set' });
    }
    env.NODE_ENV = 'production';
    process.env.CRON_SECRET = 'short';
    const short = await cleanupRoute(cronRequest('/api/workers/cleanup', 'short'));
    expect(short.status).toBe(500);
    expect(await short.json()).toEqual({ success: false, error: 'Server misconfigured: CRON_SECRET must be at least 32 characters' });
    expect(await countJobs(db.current.pool, "status = 'PENDING' AND attempts = 0")).toBe(1);

    delete process.env.CRON_SECRET;
    env.NODE_ENV = 'development';
    env.CONVEYOR_OPEN_WORKER_ROUTES = '1';
    const ran = await ingestionRoute(cronRequest('/api/workers/ingestion'));
    delete env.CONVEYOR_OPEN_WORKER_ROUTES;
    expect(ran.status).toBe(200);
    expect(await ran.json()).toMatchObject({ success: true, processed: 1 });
    // The payload was invalid: the job fails at once, with a clear error, instead of retrying.
    expect((await db.current.pool.query("SELECT status, errors->0->>'message' AS error FROM job_queue")).rows[0]).toMatchObject({
      status: 'FAILED',
      error: expect.stringContaining('INGEST_DATA payload is invalid'),
    });
  });
});

describe('time budget through the route', () => {
  it('a slow AI provider: the route returns within its budget and leaves no job locked', async () => {
    const submitted = await (await post(JSON.stringify({ records: records(300), generateEmbeddings: true }))).json();
    api.defaultDelayMs = 400; // each 25-record request takes 0.4 s; a 100-record vectorize item needs 1.6 s
    process.env.WORKER_BUDGET_MS = '1500';
    const started = Date.now();
    const response = await ingestionRoute(cronRequest('/api/workers/ingestion', 's3cret'));
    const elapsed = Date.now() - started;
    expect(response.status).toBe(200);
    expect(elapsed).toBeLessThan(1_500 + 2_000);
    expect(await countJobs(db.current.pool, "status = 'PROCESSING'")).toBe(0);
    // Stored, then cut short while embedding: what was embedded is kept, and the items carry on later.
    const status = await (await jobStatus(submitted.jobId)).json();
    expect(status).toMatchObject({ status: 'PROCESSING', savedRecords: 300, workflow: { status: 'RUNNING', currentStep: 'vectorize' } });
    expect(status.embeddings.embedded).toBeGreaterThan(0);
    expect(status.embeddings.embedded).toBeLessThan(300);
    expect(await countJobs(db.current.pool, "job_type = 'workflow:ingestion' AND status = 'PENDING'")).toBeGreaterThan(0);

    api.defaultDelayMs = 0;
    process.env.WORKER_BUDGET_MS = '20000';
    await db.current.pool.query(`UPDATE job_queue SET run_at = now() WHERE status = 'PENDING'`); // skip the backoff
    for (let i = 0; i < 5 && (await (await jobStatus(submitted.jobId)).json()).status !== 'COMPLETED'; i++) {
      await vectorizationRoute(cronRequest('/api/workers/vectorization', 's3cret'));
    }
    expect(await (await jobStatus(submitted.jobId)).json()).toMatchObject({ status: 'COMPLETED', embeddings: { embedded: 300, total: 300 } });
  });
});

describe('cleanup route', () => {
  it('deletes only finished jobs older than 7 days', async () => {
    const day = 86_400;
    await insertJob(db.current.pool, { status: 'COMPLETED', completedAtOffsetS: -8 * day });
    await insertJob(db.current.pool, { status: 'FAILED', completedAtOffsetS: -10 * day });
    await insertJob(db.current.pool, { status: 'COMPLETED', completedAtOffsetS: -6 * day });
    await insertJob(db.current.pool, { status: 'PENDING', createdAtOffsetS: -30 * day });
    await insertJob(db.current.pool, { status: 'PROCESSING', createdAtOffsetS: -30 * day });
    const response = await cleanupRoute(cronRequest('/api/workers/cleanup', 's3cret'));
    expect(await response.json()).toEqual({ success: true, deletedCount: 2, usageWindowsDeleted: 0 });
    expect(await countJobs(db.current.pool)).toBe(3);
  });
});

describe('POST /api/ingest validation', () => {
  it('takes the exact media types whatever their parameters and case', async () => {
    const json = JSON.stringify({ records: [{ content: 'a' }], generateEmbeddings: false });
    expect((await post(json, 'Application/JSON; charset=utf-8')).status).toBe(202);
    expect((await post('content\nb\n', 'text/csv; charset=utf-8', '?generateEmbeddings=false')).status).toBe(202);
  });

  it('accepts CSV with a content column; other columns become metadata', async () => {
    const csv = 'content,source\n"first, with comma",a\nsecond,b\n';
    const response = await post(csv, 'text/csv', '?generateEmbeddings=false');
    expect(response.status).toBe(202);
    const { jobId } = await response.json();
    await ingestionRoute(cronRequest('/api/workers/ingestion', 's3cret'));
    const { rows } = await db.current.pool.query('SELECT content, metadata FROM records ORDER BY row_index');
    expect(rows).toEqual([
      { content: 'first, with comma', metadata: { source: 'a' } },
      { content: 'second', metadata: { source: 'b' } },
    ]);
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ['malformed JSON', '{"records": [', 'application/json', /not valid JSON/],
    ['no records', JSON.stringify({ records: [] }), 'application/json', /Invalid ingestion/],
    ['a record without content', JSON.stringify({ records: [{ title: 'no text' }] }), 'application/json', /Invalid ingestion/],
    ['wrong types', JSON.stringify({ generateEmbeddings: 'yes', records: 'many' }), 'application/json', /Invalid ingestion/],
    ['an unknown field', JSON.stringify({ records: [{ content: 'a' }], priority: 99 }), 'application/json', /Invalid ingestion/],
    ['a NUL byte', JSON.stringify({ records: [{ content: 'a\u0000b' }] }), 'application/json', /Invalid ingestion/],
    [
      'a project named in the body (the key implies it)',
      JSON.stringify({ project: 'other', records: [{ content: 'a' }] }),
      'application/json',
      /Invalid ingestion/,
    ],
    ['a CSV without a content column', 'title\nhello\n', 'text/csv', /Invalid ingestion/],
    ['an unsupported content type', 'hello', 'text/plain', /Content-Type/],
    // What a cross-site form may send without a preflight, dressed up as CSV or JSON.
    ['text/plain naming CSV in a parameter', 'content\nhello\n', 'text/plain; x=text/csv', /Content-Type/],
    ['text/plain naming JSON in a parameter', JSON.stringify({ records: [{ content: 'a' }] }), 'text/plain; charset=application/json', /Content-Type/],
    ['a JSON look-alike type', JSON.stringify({ records: [{ content: 'a' }] }), 'application/json-patch+json', /Content-Type/],
  ])('%s: 400 with the reason, nothing written', async (_name, body, contentType, pattern) => {
    const response = await post(body, contentType);
    expect(response.status).toBe(400);
    const json = await response.json();
    expect(json.error).toMatch(pattern);
    expect(JSON.stringify(json)).not.toMatch(/at .*\.ts:\d+/);
    expect(await countJobs(db.current.pool)).toBe(0);
    expect((await db.current.pool.query('SELECT count(*)::int AS n FROM ingest_jobs')).rows[0].n).toBe(0);
  });

  it('a 2 MB body: 413, nothing written', async () => {
    const body = JSON.stringify({ records: [{ content: 'y'.repeat(2 * 1024 * 1024) }] });
    const response = await post(body);
    expect(response.status).toBe(413);
    expect(await countJobs(db.current.pool)).toBe(0);
  });

  it("GET /api/jobs/:jobId tells what happens next after a failure, never the worker's error text", async () => {
    const { jobId, workflowRunId } = await (await post(JSON.stringify({ records: records(2), generateEmbeddings: false }))).json();
    const secret = 'connect ECONNREFUSED postgres://app:hunter2@db.internal:5432/prod';
    const status = async () => (await jobStatus(jobId)).json();
    // The run's advancing job failed an attempt and waits for its retry.
    await db.current.pool.query(
      `UPDATE job_queue SET errors = jsonb_build_array(jsonb_build_object('attempt', 1, 'message', $2::text, 'kind', 'error', 'at', now()))
        WHERE dedupe_key = 'workflow:' || $1 AND status = 'PENDING'`,
      [workflowRunId, secret],
    );
    const retrying = await status();
    expect(retrying.workflow.lastError).toBe('An attempt failed; it will be retried.');
    expect(JSON.stringify(retrying)).not.toMatch(/hunter2|db\.internal|ECONNREFUSED/);
    await db.current.pool.query(`UPDATE workflow_runs SET status = 'FAILED', error = $2, completed_at = now() WHERE id = $1`, [workflowRunId, secret]);
    const failed = await status();
    expect(failed).toMatchObject({ status: 'FAILED', workflow: { status: 'FAILED', lastError: expect.stringMatching(/will not be retried/) } });
    expect(JSON.stringify(failed)).not.toMatch(/hunter2|db\.internal|ECONNREFUSED/);
  });

  it('GET /api/jobs/:jobId: 400 for a malformed id, 404 for an unknown one', async () => {
    expect((await jobStatus('1;DROP TABLE job_queue;--')).status).toBe(400);
    expect((await jobStatus('00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});
