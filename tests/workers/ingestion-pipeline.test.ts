import { beforeEach, describe, expect, it } from 'vitest';
import { GET as ingestionRoute } from '../../app/api/workers/ingestion/route';
import { GET as vectorizationRoute } from '../../app/api/workers/vectorization/route';
import { POST as ingestRoute } from '../../app/api/ingest/route';
import { GET as jobStatusRoute } from '../../app/api/jobs/[jobId]/route';
import { GET as searchRoute } from '../../app/api/search/route';
import { connections } from '@/lib/db/client';
import { sharedEmbeddingProvider } from '@/lib/embeddings/provider';
import { ingestionWorkflow } from '@/lib/ingestion/workflow';
import { drainQueue } from 'pg-conveyor';
import { Workflows } from 'pg-conveyor/workflows';
import { cronRequest, projectKey, records, useAppDatabase } from '../helpers/app-env';

const db = useAppDatabase({ CRON_SECRET: 'test-secret', NODE_ENV: 'test', EMBEDDING_PROVIDER: 'local', WORKER_BUDGET_MS: '20000' });

let key: Awaited<ReturnType<typeof projectKey>>;
async function submit(body: unknown, as = key) {
  const response = await ingestRoute(
    new Request('http://localhost/api/ingest', { method: 'POST', headers: { ...as.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  );
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}
const drainIngestion = async () => (await ingestionRoute(cronRequest('/api/workers/ingestion', 'test-secret'))).json();
const drainVectorization = async () => (await vectorizationRoute(cronRequest('/api/workers/vectorization', 'test-secret'))).json();
const status = async (jobId: string) =>
  (await jobStatusRoute(new Request(`http://localhost/api/jobs/${jobId}`, { headers: key.headers }), { params: Promise.resolve({ jobId }) })).json();
const runStatus = async (runId: unknown) => (await db.current.pool.query('SELECT status FROM workflow_runs WHERE id = $1', [runId])).rows[0]?.status;
const storedRecords = async () =>
  (await db.current.pool.query('SELECT count(*)::int AS n, count(DISTINCT (ingest_job_id, row_index))::int AS distinct_rows FROM records')).rows[0];

beforeEach(async () => {
  await db.current.pool.query('TRUNCATE job_queue, projects, workflow_runs CASCADE');
  key = await projectKey(db.current.pool, 'pipeline');
});

describe('ingestion workflow -> search, through the routes', () => {
  it('stores 1,000 records in steps of 100, vectorizes them in parallel items in one cron tick, marks the ingestion done, and finds them', async () => {
    const { status: code, json } = await submit({ records: records(1_000), generateEmbeddings: true });
    expect(code).toBe(202);
    const jobId = json.jobId as string;
    expect(await status(jobId)).toMatchObject({
      status: 'QUEUED',
      totalRecords: 1_000,
      savedRecords: 0,
      workflow: { runId: json.workflowRunId, status: 'RUNNING' },
    });

    // One tick does it all within its budget: every batch stored, then the ten vectorize items
    // embedded CRON_CONCURRENCY at once, then the run's last step (it no longer stops at 6 jobs).
    const first = await drainIngestion();
    expect(first).toMatchObject({ success: true, processed: 12, failed: 0, stoppedBy: 'empty', remaining: { due: 0, nextInMs: null } });
    expect(await drainVectorization()).toMatchObject({ success: true, processed: 0, stoppedBy: 'empty' }); // nothing left for the other route
    const { rows: pending } = await db.current.pool.query('SELECT pending_records IS NULL AS dropped FROM ingest_jobs WHERE id = $1', [jobId]);
    expect(pending[0].dropped).toBe(true); // the submitted copy goes once every batch is stored
    expect(await status(jobId)).toMatchObject({
      status: 'COMPLETED',
      savedRecords: 1_000,
      embeddings: { embedded: 1_000, total: 1_000 },
      workflow: { status: 'COMPLETED', lastError: null },
    });
    const run = await connections().queue.pool.query(`SELECT output FROM workflow_runs WHERE id = $1`, [json.workflowRunId]);
    expect(run.rows[0].output).toEqual({ savedCount: 1_000, skippedCount: 0, embedded: 1_000 });
    // Ten vectorize items (100 records each), each a job of its own that ran once.
    const { rows: items } = await db.current.pool.query(
      `SELECT count(*)::int AS n, max(attempts)::int AS attempts FROM job_queue WHERE payload ? 'item' OR dedupe_key LIKE 'workflow:%:%:%'`,
    );
    expect(items[0]).toEqual({ n: 10, attempts: 1 });
    expect(await storedRecords()).toEqual({ n: 1_000, distinct_rows: 1_000 });
    const { rows: dims } = await db.current.pool.query('SELECT DISTINCT vector_dims(embedding) AS d FROM embeddings');
    expect(dims).toEqual([{ d: 1536 }]);

    const search = await searchRoute(new Request('http://localhost/api/search?q=record%205%20about%20taxes&limit=3', { headers: key.headers }));
    const hits = (await search.json()).results as { content: string; similarity: number }[];
    expect(hits[0]!.content).toBe('record 5 about taxes');
    expect(hits[0]!.similarity).toBeCloseTo(1, 5);
    expect(hits).toHaveLength(3);
  });

  it('stores every record exactly once across a failure after some batches and the retry', async () => {
    const { json } = await submit({ records: records(1_000), generateEmbeddings: false });
    const { queue, pool } = connections();
    let crashes = 0;
    const workflows = new Workflows(queue, [
      ingestionWorkflow(() => ({
        pool,
        provider: sharedEmbeddingProvider,
        afterBatch: async (batch) => {
          if (batch === 4 && crashes++ === 0) throw new Error('worker died mid-ingestion');
        },
      })),
    ]);
    const handlers = workflows.handlers();
    const drain = () => drainQueue(queue, { types: Object.keys(handlers), maxJobs: 1, handler: (job, ctx) => handlers[job.jobType]!(job, ctx) });
    expect(await drain()).toMatchObject({ failed: 1 });
    expect((await storedRecords()).n).toBe(500); // batch 4 (401-500) landed, its step was not stored

    await db.current.pool.query(`UPDATE job_queue SET run_at = now() WHERE status = 'PENDING'`); // skip the backoff
    // A retry runs the failed step alone (so each step gets all its attempts); fresh jobs go on from there.
    expect(await drain()).toMatchObject({ completed: 1 });
    expect(await runStatus(json.workflowRunId)).toBe('RUNNING');
    for (let i = 0; i < 10 && (await runStatus(json.workflowRunId)) === 'RUNNING'; i++) await drain();
    expect(await storedRecords()).toEqual({ n: 1_000, distinct_rows: 1_000 });
    expect(await status(json.jobId as string)).toMatchObject({ status: 'COMPLETED', savedRecords: 1_000, workflow: { status: 'COMPLETED' } });
    const steps = await db.current.pool.query<{ name: string; attempt: number }>(
      `SELECT name, attempt FROM workflow_steps WHERE run_id = $1 AND name LIKE 'store %' ORDER BY seq`,
      [json.workflowRunId],
    );
    // Batches 1-4 were not run again; batch 5 ran on the retry (attempt 2), the rest on fresh jobs.
    expect(steps.rows.map((s) => s.attempt)).toEqual([1, 1, 1, 1, 2, 1, 1, 1, 1, 1]);
  });

  it('a run started inside a Prisma transaction that rolls back leaves nothing: no run, no job, no ingestion', async () => {
    const { prisma } = connections();
    const workflows = new Workflows(connections().queue, [ingestionWorkflow(() => ({ pool: connections().pool, provider: sharedEmbeddingProvider }))]);
    await expect(
      prisma.$transaction(async (tx) => {
        const ingest = await tx.ingestJob.create({ data: { projectId: key.projectId, totalRecords: 1, pendingRecords: [{ content: 'x', metadata: {} }] } });
        await workflows.start('ingestion', { ingestJobId: ingest.id, projectId: key.projectId, totalRecords: 1, generateEmbeddings: false }, { tx });
        throw new Error('the app changed its mind');
      }),
    ).rejects.toThrow('the app changed its mind');
    const counts = await db.current.pool.query(
      `SELECT (SELECT count(*) FROM workflow_runs)::int AS runs, (SELECT count(*) FROM job_queue)::int AS jobs, (SELECT count(*) FROM ingest_jobs)::int AS ingestions`,
    );
    expect(counts.rows[0]).toEqual({ runs: 0, jobs: 0, ingestions: 0 });
  });

  it('10 concurrent invocations of the ingestion route process each run once', async () => {
    const submitted = [];
    const keys = [key, await projectKey(db.current.pool, 'p1'), await projectKey(db.current.pool, 'p2')];
    for (let i = 0; i < 12; i++) submitted.push((await submit({ records: records(50, `p${i}`), generateEmbeddings: false }, keys[i % 3])).json);
    const results = await Promise.all(Array.from({ length: 10 }, () => drainIngestion()));
    expect(results.every((r) => r.success)).toBe(true);
    expect(results.reduce((sum, r) => sum + r.processed, 0)).toBe(12);
    const { rows } = await db.current.pool.query(
      `SELECT count(*)::int AS jobs, max(attempts) AS max_attempts FROM job_queue WHERE job_type = 'workflow:ingestion' AND status = 'COMPLETED'`,
    );
    expect(rows[0]).toEqual({ jobs: 12, max_attempts: 1 });
    const { rows: runs } = await db.current.pool.query(`SELECT status, count(*)::int AS n FROM workflow_runs GROUP BY status`);
    expect(runs).toEqual([{ status: 'COMPLETED', n: 12 }]);
    expect((await storedRecords()).n).toBe(600);
  });

  it('an ingestion queued before the upgrade (an INGEST_DATA job) is still drained by the route', async () => {
    const { pool, queue } = connections();
    const { rows } = await pool.query(`INSERT INTO ingest_jobs (project_id, total_records) VALUES ($1, 2) RETURNING id`, [key.projectId]);
    const job = await queue.enqueue({
      jobType: 'INGEST_DATA',
      payload: {
        ingestJobId: rows[0].id,
        projectId: key.projectId,
        generateEmbeddings: false,
        records: [
          { content: 'old one', metadata: {} },
          { content: 'old two', metadata: {} },
        ],
      },
    });
    await pool.query('UPDATE ingest_jobs SET queue_job_id = $1 WHERE id = $2', [job.id, rows[0].id]);
    expect(await drainIngestion()).toMatchObject({ processed: 1 });
    expect(await status(rows[0].id)).toMatchObject({ status: 'COMPLETED', savedRecords: 2, workflow: null, queueJob: { status: 'COMPLETED' } });
  });

  it('the ingestion route still claims at most 3 INGEST_DATA jobs per call (the API contract), and the next call goes on', async () => {
    const { pool, queue } = connections();
    const jobs = [];
    for (let i = 0; i < 5; i++) {
      const { rows } = await pool.query(`INSERT INTO ingest_jobs (project_id, total_records) VALUES ($1, 1) RETURNING id`, [key.projectId]);
      const payload = { ingestJobId: rows[0].id, projectId: key.projectId, generateEmbeddings: false, records: [{ content: `old ${i}`, metadata: {} }] };
      jobs.push(await queue.enqueue({ jobType: 'INGEST_DATA', payload }));
    }
    expect(await drainIngestion()).toMatchObject({ processed: 3, stoppedBy: 'maxJobs', remaining: { due: 2 } });
    expect(await drainIngestion()).toMatchObject({ processed: 2 });
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM job_queue WHERE job_type = 'INGEST_DATA' AND status = 'COMPLETED'`);
    expect(rows[0].n).toBe(5);
  });
});

describe('a worker process killed mid-ingestion', () => {
  it('loses nothing and stores nothing twice once the run is rescued and advanced again', async () => {
    const { spawn } = await import('node:child_process');
    const { json } = await submit({ records: records(1_000), generateEmbeddings: false });
    const child = spawn(process.execPath, ['--import', 'tsx', 'tests/fixtures/ingest-worker-process.ts'], {
      env: { ...process.env, DATABASE_URL: db.current.url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('batch 3')) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => resolve());
      setTimeout(() => reject(new Error('worker process never reached batch 3')), 20_000);
    });
    await new Promise((resolve) => child.on('exit', resolve));
    const partial = await storedRecords();
    expect(partial.n).toBeGreaterThanOrEqual(400);
    expect(partial.n).toBeLessThan(1_000);
    expect((await db.current.pool.query("SELECT status FROM job_queue WHERE job_type = 'workflow:ingestion'")).rows[0].status).toBe('PROCESSING');

    // The 1 s lease runs out; the next cron tick's claim path rescues the job and runs it again.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const { queue } = connections();
    expect(await queue.rescueExpired()).toBe(1);
    await db.current.pool.query(`UPDATE job_queue SET run_at = now() WHERE status = 'PENDING'`); // skip the backoff
    await drainIngestion(); // the rescued attempt re-runs the batch it was killed in, fresh jobs the rest
    expect(await storedRecords()).toEqual({ n: 1_000, distinct_rows: 1_000 });
    expect(await status(json.jobId as string)).toMatchObject({ status: 'COMPLETED', savedRecords: 1_000, workflow: { status: 'COMPLETED' } });
    const { rows } = await db.current.pool.query(`SELECT attempts FROM job_queue WHERE job_type = 'workflow:ingestion' ORDER BY created_at, id`);
    expect(rows.map((r) => r.attempts)).toEqual([2, 1]);
  });
});
