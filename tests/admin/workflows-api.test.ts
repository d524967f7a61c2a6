/**
 * The admin API for workflow runs: who may read and act, what a timeline holds, and the requests
 * an attacker would send (no session, a lower role, cross-site, bad ids and filters).
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { POST as login } from '../../app/api/auth/login/route';
import { GET as runs } from '../../app/api/admin/workflows/route';
import { GET as runDetail } from '../../app/api/admin/workflows/[runId]/route';
import * as retryRoute from '../../app/api/admin/workflows/retry/route';
import { POST as cancel } from '../../app/api/admin/workflows/cancel/route';
import { createUser, type Role } from '@/lib/auth/users';
import { connections } from '@/lib/db/client';
import { drainQueue, NonRetryableError } from 'pg-conveyor';
import { defineWorkflow, Workflows } from 'pg-conveyor/workflows';
import { useAppDatabase } from '../helpers/app-env';

const db = useAppDatabase({ SESSION_SECRET: 'x'.repeat(40), NODE_ENV: 'test' });
const cookies: Partial<Record<Role, string>> = {};
const UNKNOWN = '00000000-0000-7000-8000-000000000000';

beforeAll(async () => {
  for (const role of ['VIEWER', 'MANAGER', 'ADMIN'] as const) {
    await createUser(connections().pool, { email: `${role.toLowerCase()}@wf.example`, password: `${role}-password-123`, role });
    const response = await login(
      new Request('http://localhost/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `${role.toLowerCase()}@wf.example`, password: `${role}-password-123` }),
      }),
    );
    cookies[role] = response.headers.get('set-cookie')!.split(';')[0]!;
  }
});
beforeEach(async () => {
  await db.current.pool.query('TRUNCATE workflow_runs CASCADE; DELETE FROM job_queue');
});

const as = (role: Role | null, url: string, init: RequestInit = {}) =>
  new Request(`http://localhost${url}`, { ...init, headers: { ...(role ? { cookie: cookies[role]! } : {}), ...(init.headers as Record<string, string>) } });
const post = (role: Role | null, url: string, headers: Record<string, string> = {}) => as(role, url, { method: 'POST', headers });
const detail = async (role: Role | null, id: string) => runDetail(as(role, `/api/admin/workflows/${id}`), { params: Promise.resolve({ runId: id }) });

// A workflow of the same name as none of the app's: the admin API reads any run in the tables.
let attempts = 0;
const report = defineWorkflow({
  name: 'report',
  input: z.object({ customer: z.string() }),
  maxAttempts: 1,
  run: async (ctx, { customer }) => {
    const rows = await ctx.step('load', () => Array.from({ length: 200 }, (_, i) => `${customer} row ${i}`));
    await ctx.map('render', [1, 2, 3], (page) => page * 10);
    await ctx.step('send', () => {
      if (++attempts === 1) throw new NonRetryableError('mail server said no');
      return { sent: rows.length };
    });
    return { rows: rows.length };
  },
});

async function failedRun() {
  const workflows = new Workflows(connections().queue, [report]);
  const { runId } = await workflows.start('report', { customer: 'acme' });
  const handlers = workflows.handlers();
  for (let i = 0; i < 5; i++)
    await drainQueue(connections().queue, { types: Object.keys(handlers), handler: (job, ctx) => handlers[job.jobType]!(job, ctx), budgetMs: 5_000 });
  return { workflows, runId };
}

describe('GET /api/admin/workflows and /:runId', () => {
  it('VIEWER reads the runs and a run’s timeline: steps with attempts, durations, previews; map items; the failed step and its error', async () => {
    attempts = 0;
    const { runId } = await failedRun();
    const list = await (await runs(as('VIEWER', '/api/admin/workflows?status=FAILED'))).json();
    expect(list.runs).toEqual([
      expect.objectContaining({ id: runId, name: 'report', status: 'FAILED', currentStep: 'send', error: 'NonRetryableError: mail server said no' }),
    ]);
    expect((await (await runs(as('VIEWER', '/api/admin/workflows?status=COMPLETED'))).json()).runs).toEqual([]);

    const { run } = await (await detail('VIEWER', runId)).json();
    expect(run).toMatchObject({ id: runId, status: 'FAILED', currentStep: 'send', input: '{"customer":"acme"}', output: null });
    expect(run.steps.map((s: { name: string; kind: string; attempt: number }) => [s.name, s.kind, s.attempt])).toEqual([
      ['load', 'step', 1],
      ['render', 'map', 1],
    ]);
    expect(run.steps[0].output).toMatch(/^\["acme row 0",.*… \(\d+ characters\)$/); // cut to a preview
    expect(run.steps[0].output.length).toBeLessThan(400);
    expect(typeof run.steps[0].durationMs).toBe('number');
    expect(run.steps[1].items).toEqual({ total: 3, done: 3, failed: 0, errors: [] });
  });

  it('no session: 401; bad filter or id: 400; unknown run: 404', async () => {
    expect((await runs(as(null, '/api/admin/workflows'))).status).toBe(401);
    expect((await detail(null, UNKNOWN)).status).toBe(401);
    const badStatus = await runs(as('VIEWER', '/api/admin/workflows?status=DONE'));
    expect(badStatus.status).toBe(400);
    expect((await badStatus.json()).issues[0].path).toBe('status');
    expect((await runs(as('VIEWER', '/api/admin/workflows?name=a%20b'))).status).toBe(400);
    expect((await detail('VIEWER', "1' OR '1'='1")).status).toBe(400);
    expect((await detail('VIEWER', UNKNOWN)).status).toBe(404);
  });
});

describe('POST /api/admin/workflows/{retry,cancel}', () => {
  it('ADMIN retries a failed run from its failed step; VIEWER and MANAGER get 403 and change nothing; a running run cannot be retried', async () => {
    attempts = 0;
    const { workflows, runId } = await failedRun();
    for (const role of ['VIEWER', 'MANAGER'] as const)
      expect((await retryRoute.POST(post(role, `/api/admin/workflows/retry?runId=${runId}`))).status).toBe(403);
    expect((await retryRoute.POST(post(null, `/api/admin/workflows/retry?runId=${runId}`))).status).toBe(401);
    expect((await workflows.getRun(runId))!.status).toBe('FAILED');
    expect('GET' in retryRoute).toBe(false); // Next answers 405 for a method the route does not export

    const retried = await retryRoute.POST(post('ADMIN', `/api/admin/workflows/retry?runId=${runId}`));
    expect(await retried.json()).toEqual({ success: true, runId, status: 'RUNNING' });
    const again = await retryRoute.POST(post('ADMIN', `/api/admin/workflows/retry?runId=${runId}`));
    expect(again.status).toBe(400);
    expect((await again.json()).error).toMatch(/only a FAILED run can be retried/);
  });

  it('ADMIN cancels a running run and its pending job; cross-site, a missing or bad id are refused', async () => {
    const workflows = new Workflows(connections().queue, [report]);
    const { runId } = await workflows.start('report', { customer: 'globex' });
    expect((await cancel(post('ADMIN', `/api/admin/workflows/cancel?runId=${runId}`, { origin: 'https://evil.example' }))).status).toBe(403);
    expect((await cancel(post('MANAGER', `/api/admin/workflows/cancel?runId=${runId}`))).status).toBe(403);
    expect((await cancel(post('ADMIN', '/api/admin/workflows/cancel'))).status).toBe(400);
    expect((await cancel(post('ADMIN', '/api/admin/workflows/cancel?runId=not-a-uuid'))).status).toBe(400);
    expect((await workflows.getRun(runId))!.status).toBe('RUNNING');

    expect(await (await cancel(post('ADMIN', `/api/admin/workflows/cancel?runId=${runId}`))).json()).toEqual({ success: true, runId, status: 'CANCELLED' });
    const jobs = await db.current.pool.query(`SELECT status FROM job_queue WHERE dedupe_key = $1`, [`workflow:${runId}`]);
    expect(jobs.rows).toEqual([{ status: 'CANCELLED' }]);
    expect((await cancel(post('ADMIN', `/api/admin/workflows/cancel?runId=${UNKNOWN}`))).status).toBe(404);
  });
});
