/**
 * Finding jobs and bulk actions (the console's library side): every filter, cursor pages that
 * cover each match once, windows that bound a search's cost, dry-run counts, and bulk retry,
 * cancel and delete in batches with their audit row, guarded by state and safe to run twice at once.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from 'pg-conveyor';
import { FIND_WINDOW, parsePayloadMatch, type JobFilter } from 'pg-conveyor/console';
import { useQueue } from './helpers/queue';
import { countJobs, insertJob } from './helpers/jobs';

const t = useQueue({ poolMax: 4, reset: true });
const db = t.db;

/** `n` jobs in one statement; ids from the database's UUIDv7 default, in insertion order. */
async function bulkInsert(n: number, o: { jobType: string; status?: string; error?: string; payloadN?: boolean; dedupe?: string }) {
  const finished = ['COMPLETED', 'FAILED', 'CANCELLED'].includes(o.status ?? 'PENDING');
  await db.current.pool.query(
    `INSERT INTO job_queue (job_type, status, payload, attempts, started_at, completed_at, errors, dedupe_key)
     SELECT $1, $2::text::"JobStatus", jsonb_build_object('n', g, 'customer', jsonb_build_object('id', g % 7)),
            CASE WHEN $3 THEN 1 ELSE 0 END, CASE WHEN $3 THEN now() END, CASE WHEN $3 THEN now() END,
            CASE WHEN $4::text IS NULL THEN '[]'::jsonb
                 ELSE jsonb_build_array(jsonb_build_object('attempt', 1, 'at', now(), 'message', $4::text || ' #' || g, 'kind', 'error')) END,
            $5::text
       FROM generate_series(1, $6::int) g`,
    [o.jobType, o.status ?? 'PENDING', finished, o.error ?? null, o.dedupe ?? null, n],
  );
}

async function allPages(filter: JobFilter, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1_000; page++) {
    const found = await t.queue.console.findJobs(filter, { limit, cursor });
    ids.push(...found.jobs.map((j) => j.id));
    if (!found.nextCursor) return ids;
    cursor = found.nextCursor;
  }
  throw new Error('no end of pages');
}

describe('finding jobs', () => {
  it('filters by id prefix, type, status, error text, payload path and creation time; each filter narrows', async () => {
    const a = await t.queue.enqueue({ jobType: 'EMAIL', payload: { customerId: 42, to: 'a@example.com' } });
    const b = await t.queue.enqueue({ jobType: 'EMAIL', payload: { customerId: 7, to: 'b@example.com' } });
    const c = await t.queue.enqueue({ jobType: 'REPORT', payload: { customerId: 42 }, maxAttempts: 1 });
    const [claimed] = await t.queue.claimJobs(['REPORT'], 1);
    await t.queue.failJob(claimed!, new Error('SMTP relay refused the connection'));
    const ids = (f: JobFilter) => t.queue.console.findJobs(f).then((r) => r.jobs.map((j) => j.id));

    expect(await ids({})).toEqual([c.id, b.id, a.id]); // newest first
    expect(await ids({ id: a.id })).toEqual([a.id]);
    expect(await ids({ id: a.id.slice(0, 30) })).toEqual([a.id]); // a prefix, dashes and all
    expect(await ids({ id: a.id.replaceAll('-', '').slice(0, 28).toUpperCase() })).toEqual([a.id]); // without dashes, any case
    expect(await ids({ jobType: 'EMAIL' })).toEqual([b.id, a.id]);
    expect(await ids({ payload: { path: ['customerId'], equals: 42 } })).toEqual([c.id, a.id]);
    expect(await ids({ payload: { path: ['customerId'], equals: '42' } })).toEqual([]); // a string is not the number
    expect(await ids({ payload: { path: ['customerId'], equals: 42 }, jobType: 'EMAIL' })).toEqual([a.id]);
    expect(await ids({ payload: parsePayloadMatch('to = b@example.com') })).toEqual([b.id]);
    expect(await ids({ error: 'smtp RELAY' })).toEqual([c.id]);
    expect(await ids({ status: 'FAILED', jobType: 'REPORT', error: 'refused' })).toEqual([c.id]);
    expect(await ids({ status: 'FAILED', jobType: 'EMAIL' })).toEqual([]);
    expect(await ids({ status: 'PENDING' })).toEqual([b.id, a.id]);
    const {
      rows: [{ now }],
    } = await db.current.pool.query<{ now: Date }>('SELECT now()');
    expect(await ids({ createdAfter: new Date(now.getTime() - 60_000) })).toHaveLength(3);
    expect(await ids({ createdAfter: new Date(now.getTime() + 60_000) })).toEqual([]);
    expect(await ids({ createdBefore: new Date(now.getTime() - 60_000) })).toEqual([]);
    expect(await ids({ createdBefore: new Date(now.getTime() + 60_000).toISOString(), jobType: 'REPORT' })).toEqual([c.id]);
  });

  it('cursor pages return every match exactly once, for the primary-key window and the dead-letter window', async () => {
    await bulkInsert(230, { jobType: 'A', status: 'FAILED', error: 'boom' });
    await bulkInsert(100, { jobType: 'B', status: 'FAILED', error: 'boom' });
    await bulkInsert(170, { jobType: 'A', status: 'COMPLETED' });
    const failedA = await allPages({ jobType: 'A', status: 'FAILED' }, 40);
    expect(failedA).toHaveLength(230);
    expect(new Set(failedA).size).toBe(230);
    expect([...failedA].sort().reverse()).toEqual(failedA); // newest first throughout
    const everyA = await allPages({ jobType: 'A' }, 64);
    expect(everyA).toHaveLength(400);
    expect(new Set(everyA).size).toBe(400);
    expect(await allPages({ payload: { path: ['customer', 'id'], equals: 3 }, jobType: 'B' }, 5)).toHaveLength(14);
  });

  it('reads at most one window per request: a rare match below it is reached by following the cursor', async () => {
    const oldest = await insertJob(db.current.pool, { jobType: 'RARE', payload: { order: 'X-1' } });
    await bulkInsert(FIND_WINDOW + 500, { jobType: 'NOISE' });
    const first = await t.queue.console.findJobs({ payload: { path: ['order'], equals: 'X-1' } });
    expect(first).toMatchObject({ jobs: [], windowEnded: true });
    expect(first.nextCursor).not.toBeNull();
    const second = await t.queue.console.findJobs({ payload: { path: ['order'], equals: 'X-1' } }, { cursor: first.nextCursor });
    expect(second.jobs.map((j) => j.id)).toEqual([oldest]);
    expect(second.nextCursor).toBeNull();
  });

  it('bad filters are typed errors before any SQL', async () => {
    await expect(t.queue.console.findJobs({ id: 'not-hex!' })).rejects.toThrow(ValidationError);
    await expect(t.queue.console.findJobs({ status: 'DONE' as never })).rejects.toThrow(/status/);
    await expect(t.queue.console.findJobs({ createdAfter: 'yesterday' })).rejects.toThrow(ValidationError);
    await expect(t.queue.console.findJobs({ unknown: 1 } as never)).rejects.toThrow(ValidationError);
    await expect(t.queue.console.findJobs({}, { cursor: 'abc' })).rejects.toThrow(/cursor/);
    await expect(t.queue.console.findJobs({}, { limit: 0 })).rejects.toThrow(/limit/);
    expect(() => parsePayloadMatch('no equals sign')).toThrow(ValidationError);
    expect(parsePayloadMatch('payload.customer.id = 42')).toEqual({ path: ['customer', 'id'], equals: 42 });
    expect(parsePayloadMatch('flag = true')).toEqual({ path: ['flag'], equals: true });
    expect(parsePayloadMatch('name = "42"')).toEqual({ path: ['name'], equals: '42' });
  });
});

describe('counting matches (a dry run)', () => {
  it('counts exactly across windows, and says when its time budget cut the count short', async () => {
    await bulkInsert(60_000, { jobType: 'C', status: 'COMPLETED' });
    await bulkInsert(1_500, { jobType: 'C', status: 'FAILED', error: 'timeout' });
    await bulkInsert(40_000, { jobType: 'D', status: 'COMPLETED' });
    expect(await t.queue.console.countJobs({ jobType: 'C', status: 'FAILED' })).toEqual({ count: 1_500, complete: true });
    expect(await t.queue.console.countJobs({ jobType: 'C' }, { budgetMs: 60_000 })).toEqual({ count: 61_500, complete: true });
    expect(await t.queue.console.countJobs({ error: 'TIMEOUT' }, { budgetMs: 60_000 })).toEqual({ count: 1_500, complete: true });
    const cut = await t.queue.console.countJobs({ jobType: 'D' }, { budgetMs: 0 }); // one window of the newest 50,000 rows, then out of time
    expect(cut).toEqual({ count: 40_000, complete: false });
  });
});

describe('bulk actions', () => {
  it('retries every FAILED job of a type in batches across calls, leaves the rest, and keeps an audit row', async () => {
    await bulkInsert(2_500, { jobType: 'SEND', status: 'FAILED', error: 'relay down' });
    await bulkInsert(50, { jobType: 'OTHER', status: 'FAILED', error: 'relay down' });
    await bulkInsert(30, { jobType: 'SEND', status: 'COMPLETED' });
    const filter: JobFilter = { jobType: 'SEND', status: 'FAILED' };
    const dryRun = await t.queue.console.countJobs(filter);
    expect(dryRun).toEqual({ count: 2_500, complete: true });

    const started = await t.queue.console.startBulkAction({ action: 'retry', filter, requestedBy: 'ops@example.com', matched: dryRun.count, budgetMs: 0 });
    expect(started).toMatchObject({ action: 'retry', affected: 0, finishedAt: null, matched: 2_500, requestedBy: 'ops@example.com' });
    const done = await t.queue.console.continueBulkAction(started.id, { budgetMs: 30_000 });
    expect(done).toMatchObject({ affected: 2_500, finishedAt: expect.any(Date), filter: { jobType: 'SEND', status: 'FAILED' } });
    expect(await countJobs(db.current.pool, "job_type = 'SEND' AND status = 'PENDING' AND completed_at IS NULL AND run_at <= now()")).toBe(2_500);
    expect(await countJobs(db.current.pool, "job_type = 'OTHER' AND status = 'FAILED'")).toBe(50);
    expect(await countJobs(db.current.pool, "job_type = 'SEND' AND status = 'COMPLETED'")).toBe(30);
    // Finished: continuing again changes nothing.
    expect(await t.queue.console.continueBulkAction(started.id)).toMatchObject({ affected: 2_500 });
    expect(await t.queue.console.listBulkActions()).toMatchObject([{ id: started.id, action: 'retry', affected: 2_500, requestedBy: 'ops@example.com' }]);
    // The retried jobs run.
    expect(await t.queue.claimJobs(['SEND'], 10)).toHaveLength(10);
  });

  it('two requests continuing one action at once take turns: each job is changed and counted once', async () => {
    await bulkInsert(5_000, { jobType: 'RACE', status: 'FAILED', error: 'x' });
    const started = await t.queue.console.startBulkAction({ action: 'retry', filter: { jobType: 'RACE', status: 'FAILED' }, budgetMs: 0 });
    await Promise.all([
      t.queue.console.continueBulkAction(started.id, { budgetMs: 30_000 }),
      t.queue.console.continueBulkAction(started.id, { budgetMs: 30_000 }),
    ]);
    expect(await t.queue.console.getBulkAction(started.id)).toMatchObject({ affected: 5_000, finishedAt: expect.any(Date) });
    expect(await countJobs(db.current.pool, "job_type = 'RACE' AND status = 'PENDING'")).toBe(5_000);
  });

  it('a retry never makes two jobs with one dedupe key active', async () => {
    await bulkInsert(2, { jobType: 'KEYED', status: 'FAILED', dedupe: 'order-1' });
    await bulkInsert(1, { jobType: 'KEYED', status: 'FAILED', dedupe: 'order-2' });
    await t.queue.enqueue({ jobType: 'KEYED', dedupe: { key: 'order-2' } });
    const done = await t.queue.console.startBulkAction({ action: 'retry', filter: { jobType: 'KEYED', status: 'FAILED' } });
    expect(done).toMatchObject({ affected: 1, finishedAt: expect.any(Date) });
    expect(await countJobs(db.current.pool, "dedupe_key = 'order-1' AND status = 'PENDING'")).toBe(1);
    expect(await countJobs(db.current.pool, "dedupe_key = 'order-2' AND status = 'PENDING'")).toBe(1);
  });

  it('cancel takes waiting and running jobs; delete takes finished jobs only', async () => {
    await bulkInsert(3, { jobType: 'MIX', status: 'PENDING' });
    await bulkInsert(2, { jobType: 'MIX', status: 'COMPLETED' });
    const running = await insertJob(db.current.pool, { jobType: 'MIX', status: 'PROCESSING' });
    expect(await t.queue.console.startBulkAction({ action: 'delete', filter: { jobType: 'MIX' } })).toMatchObject({ affected: 2 });
    expect(await countJobs(db.current.pool, "job_type = 'MIX'")).toBe(4);
    expect(await t.queue.console.startBulkAction({ action: 'cancel', filter: { jobType: 'MIX' } })).toMatchObject({ affected: 4 });
    expect(await countJobs(db.current.pool, "job_type = 'MIX' AND status = 'CANCELLED' AND locked_until IS NULL")).toBe(4);
    expect((await t.queue.getJob(running))?.status).toBe('CANCELLED');
    expect(await t.queue.console.startBulkAction({ action: 'delete', filter: { jobType: 'MIX', status: 'CANCELLED' } })).toMatchObject({ affected: 4 });
    expect(await countJobs(db.current.pool, "job_type = 'MIX'")).toBe(0);
  });

  it('a bad action or filter is refused and writes no audit row', async () => {
    await expect(t.queue.console.startBulkAction({ action: 'purge' as never, filter: {} })).rejects.toThrow(ValidationError);
    await expect(t.queue.console.startBulkAction({ action: 'retry', filter: { status: 'NOPE' } as never })).rejects.toThrow(ValidationError);
    await expect(t.queue.console.continueBulkAction('00000000-0000-7000-8000-000000000000')).rejects.toThrow(/No bulk action/);
    await expect(t.queue.console.continueBulkAction('abc')).rejects.toThrow(/Invalid bulk action id: abc \(expected a UUID\)/);
    expect(await t.queue.console.listBulkActions()).toEqual([]);
  });
});

describe('chained jobs', () => {
  it('a job enqueued by another’s completion names it; the parent lists what it chained; plain jobs have neither', async () => {
    const parent = await t.queue.enqueue({ jobType: 'ORDER' });
    const [claimed] = await t.queue.claimJobs(['ORDER'], 1);
    await t.queue.completeJob(claimed!, { ok: true }, { enqueue: [{ jobType: 'INVOICE' }, { jobType: 'EMAIL' }] });
    const children = (await t.queue.console.findJobs({ status: 'PENDING' })).jobs.map((j) => j.id).sort();
    expect(children).toHaveLength(2);
    expect(await t.queue.console.getJobLinks(parent.id)).toEqual({ parentId: null, childIds: children });
    expect(await t.queue.console.getJobLinks(children[0]!)).toEqual({ parentId: parent.id, childIds: [] });
    const plain = await t.queue.enqueue({ jobType: 'PLAIN' });
    expect(await t.queue.console.getJobLinks(plain.id)).toEqual({ parentId: null, childIds: [] });
    await expect(t.queue.console.getJobLinks('nope')).rejects.toThrow(ValidationError);
  });
});
