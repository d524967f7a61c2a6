import { beforeEach, describe, expect, it } from 'vitest';
import { GET as ingestionRoute } from '../../app/api/workers/ingestion/route';
import { GET as vectorizationRoute } from '../../app/api/workers/vectorization/route';
import { POST as ingestRoute } from '../../app/api/ingest/route';
import { GET as jobStatusRoute } from '../../app/api/jobs/[jobId]/route';
import { GET as searchRoute } from '../../app/api/search/route';
import { connections } from '@/lib/db/client';
import { processAndStore } from '@/lib/ingestion/process-and-store';
import { drainQueue } from 'pg-conveyor';
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

beforeEach(async () => {
  await db.current.pool.query('TRUNCATE job_queue, projects CASCADE');
  key = await projectKey(db.current.pool, 'pipeline');
});

describe('ingestion -> vectorization -> search, through the routes', () => {
  it('stores 1,000 records, vectorizes them in re-enqueued steps of 250, and finds them', async () => {
    const { status: code, json } = await submit({ records: records(1_000), generateEmbeddings: true });
    expect(code).toBe(202);
    const jobId = json.jobId as string;
    expect(await status(jobId)).toMatchObject({ status: 'QUEUED', totalRecords: 1_000, savedRecords: 0 });

    const tick = await drainIngestion();
    expect(tick).toMatchObject({ success: true, processed: 1 });
    expect(typeof tick.duration).toBe('number');
    expect(await status(jobId)).toMatchObject({
      status: 'COMPLETED', savedRecords: 1_000, progress: { current: 1_000, total: 1_000 }, queueJob: { status: 'COMPLETED' },
    });
    const { rows: payloads } = await db.current.pool.query(`SELECT count(*)::int AS n FROM job_queue WHERE job_type = 'INGEST_DATA' AND payload IS NULL`);
    expect(payloads[0].n).toBe(1);

    // Each VECTORIZE job embeds 250 and enqueues its successor while records remain; an invocation
    // takes up to 2 jobs, one after the other (one project never has two running).
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      const result = await drainVectorization();
      seen.push(result.processed);
      if (result.processed === 0) break;
    }
    expect(seen).toEqual([2, 2, 0]);
    const { rows } = await db.current.pool.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE result->>'embedded' = '250')::int AS full_steps
         FROM job_queue WHERE job_type = 'VECTORIZE' AND status = 'COMPLETED'`,
    );
    expect(rows[0]).toEqual({ n: 4, full_steps: 4 });
    expect(await status(jobId)).toMatchObject({ embeddings: { embedded: 1_000, total: 1_000 } });
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
    const crashingHandler = (job: Parameters<typeof processAndStore>[1], ctx: Parameters<typeof processAndStore>[2]) =>
      processAndStore({ pool, afterBatch: async (batch) => { if (batch === 4 && crashes++ === 0) throw new Error('worker died mid-ingestion'); } }, job, ctx);
    const first = await drainQueue(queue, { types: ['INGEST_DATA'], maxJobs: 1, handler: crashingHandler });
    expect(first).toMatchObject({ failed: 1 });
    const { rows: partial } = await db.current.pool.query('SELECT count(*)::int AS n FROM records');
    expect(partial[0].n).toBe(500);

    await db.current.pool.query(`UPDATE job_queue SET run_at = now() WHERE job_type = 'INGEST_DATA'`); // skip the backoff
    const second = await drainQueue(queue, { types: ['INGEST_DATA'], maxJobs: 1, handler: crashingHandler });
    expect(second).toMatchObject({ completed: 1 });
    const { rows } = await db.current.pool.query('SELECT count(*)::int AS n, count(DISTINCT row_index)::int AS distinct_rows FROM records');
    expect(rows[0]).toEqual({ n: 1_000, distinct_rows: 1_000 });
    expect(await status(json.jobId as string)).toMatchObject({ status: 'COMPLETED', savedRecords: 1_000, queueJob: { attempts: 2 } });
  });

  it('10 concurrent invocations of the ingestion route process each job once', async () => {
    const submitted = [];
    const keys = [key, await projectKey(db.current.pool, 'p1'), await projectKey(db.current.pool, 'p2')];
    for (let i = 0; i < 12; i++) submitted.push((await submit({ records: records(50, `p${i}`), generateEmbeddings: false }, keys[i % 3])).json);
    const results = await Promise.all(Array.from({ length: 10 }, () => drainIngestion()));
    expect(results.every((r) => r.success)).toBe(true);
    expect(results.reduce((sum, r) => sum + r.processed, 0)).toBe(12);
    const { rows } = await db.current.pool.query(
      `SELECT count(*)::int AS jobs, max(attempts) AS max_attempts FROM job_queue WHERE job_type = 'INGEST_DATA' AND status = 'COMPLETED'`,
    );
    expect(rows[0]).toEqual({ jobs: 12, max_attempts: 1 });
    const { rows: stored } = await db.current.pool.query('SELECT count(*)::int AS n FROM records');
    expect(stored[0].n).toBe(600);
  });
});

describe('a worker process killed mid-ingestion', () => {
  it('loses nothing and stores nothing twice once the job is rescued and re-run', async () => {
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
    const { rows: partial } = await db.current.pool.query('SELECT count(*)::int AS n FROM records');
    expect(partial[0].n).toBeGreaterThanOrEqual(400);
    expect(partial[0].n).toBeLessThan(1_000);
    expect((await db.current.pool.query("SELECT status FROM job_queue WHERE job_type = 'INGEST_DATA'")).rows[0].status).toBe('PROCESSING');

    // The 1 s lease runs out; the next cron tick's claim path rescues the job and runs it again.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const { queue } = connections();
    expect(await queue.rescueExpired()).toBe(1);
    await db.current.pool.query(`UPDATE job_queue SET run_at = now() WHERE job_type = 'INGEST_DATA'`); // skip the backoff
    expect(await drainIngestion()).toMatchObject({ processed: 1 });
    const { rows } = await db.current.pool.query('SELECT count(*)::int AS n, count(DISTINCT row_index)::int AS distinct_rows FROM records');
    expect(rows[0]).toEqual({ n: 1_000, distinct_rows: 1_000 });
    expect(await status(json.jobId as string)).toMatchObject({ status: 'COMPLETED', savedRecords: 1_000, queueJob: { attempts: 2 } });
  });
});
