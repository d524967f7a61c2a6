/**
 * The queue monitor in a real browser (Debian's Chromium driven by playwright-core) against the
 * production build of the app and a real database.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../scripts/ensure-chromium.mjs';
import { createUser } from '@/lib/auth/users';
import { z } from 'zod';
import { DatabaseQueue, drainQueue, NonRetryableError } from 'pg-conveyor';
import { defineWorkflow, Workflows } from 'pg-conveyor/workflows';
import { projectKey } from '../helpers/app-env';
import { useTestDatabase } from '../../packages/pg-conveyor/test/helpers/db';
import { buildApp, startApp, type RunningApp } from './app-server';

const db = useTestDatabase();
let app: RunningApp;
let browser: Browser;
let queue: DatabaseQueue;
const ARTIFACTS = 'test-results';

beforeAll(async () => {
  const executablePath = ensureChromium();
  buildApp();
  await createUser(db.current.pool, { email: 'admin@e2e.test', password: 'admin-password-1', role: 'ADMIN' });
  await createUser(db.current.pool, { email: 'manager@e2e.test', password: 'manager-password-1', role: 'MANAGER' });
  await createUser(db.current.pool, { email: 'viewer@e2e.test', password: 'viewer-password-1', role: 'VIEWER' });
  app = await startApp({ DATABASE_URL: db.current.url, SESSION_SECRET: 's'.repeat(48), CRON_SECRET: 'e2e-cron-'.padEnd(40, 'x') });
  browser = await chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  queue = new DatabaseQueue({ pool: db.current.pool });
  mkdirSync(ARTIFACTS, { recursive: true });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${app.baseUrl}/admin/queue-monitor`);
  await page.waitForURL(/\/login/);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/admin\/queue-monitor/);
  await page.waitForSelector('[data-testid=stat-pending]');
}

const row = (page: Page, id: string) => page.locator(`tr[data-job-id="${id}"]`);

/** What the Content-Security-Policy blocked, and scripts that threw, on any page of a test. */
const violations: string[] = [];
function watched(page: Page): Page {
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  page.on('pageerror', (error) => violations.push(error.message));
  return page;
}
afterEach(() => {
  expect(violations.splice(0)).toEqual([]);
});

describe('queue monitor in Chromium', () => {
  it('every page and API answer carries the security headers; pages run under a nonce CSP', async () => {
    for (const path of ['/', '/login', '/admin/queue-monitor', '/admin/api-keys']) {
      const response = await fetch(`${app.baseUrl}${path}`, { redirect: 'manual' });
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp, path).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
      expect(csp, path).toMatch(/frame-ancestors 'none'/);
      expect(csp, path).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('referrer-policy'), path).toBe('strict-origin-when-cross-origin');
      expect(response.headers.get('strict-transport-security'), path).toMatch(/max-age=\d+/);
    }
    const api = await fetch(`${app.baseUrl}/api/health/queue`);
    expect(api.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
    // Each page view gets a nonce of its own.
    const nonce = async () => /'nonce-([^']+)'/.exec((await fetch(`${app.baseUrl}/login`)).headers.get('content-security-policy')!)![1];
    expect(await nonce()).not.toBe(await nonce());
  });

  it('the ingest page renders and runs under the CSP', async () => {
    const { key, projectId } = await projectKey(db.current.pool, 'ingest-page');
    const page = watched(await browser.newPage());
    await page.goto(`${app.baseUrl}/`);
    await page.fill('#api-key', key);
    // Only the page's own script answers the click (fetch, then the status panel): it ran.
    await page.getByRole('button', { name: 'Ingest' }).click();
    await page.getByTestId('ingest-status').waitFor({ timeout: 12_000 });
    const { rows } = await db.current.pool.query('SELECT count(*)::int AS n FROM ingest_jobs WHERE project_id = $1', [projectId]);
    expect(rows[0].n).toBe(1);
    await page.close();
  });

  it('ADMIN creates a project and a key in the browser; the key works over HTTP for its project only, until revoked', async () => {
    const page = watched(await browser.newPage({ viewport: { width: 1280, height: 900 } }));
    page.on('dialog', (dialog) => dialog.accept());
    await signIn(page, 'admin@e2e.test', 'admin-password-1');
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.waitForURL(/\/admin\/api-keys/);
    await page.getByLabel('New project name').fill('browser-made');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByText('Project browser-made created').waitFor();
    await page.getByLabel('Project of the new key').selectOption({ label: 'browser-made' });
    await page.getByLabel('New key name').fill('from the browser');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = (await page.getByTestId('new-key-value').textContent())!;
    expect(key).toMatch(/^cvk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);

    const api = (path: string, init: RequestInit = {}, bearer = key) =>
      fetch(`${app.baseUrl}${path}`, { ...init, headers: { ...init.headers, authorization: `Bearer ${bearer}` } });
    const ingest = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records: [{ content: 'from a browser-made key' }] }),
    };
    const accepted = await api('/api/ingest', ingest);
    expect(accepted.status).toBe(202);
    const { jobId } = await accepted.json();
    expect((await api(`/api/jobs/${jobId}`)).status).toBe(200);
    // Another project's key does not see it, and no key at all is refused.
    const other = await projectKey(db.current.pool, 'someone-else');
    expect((await api(`/api/jobs/${jobId}`, {}, other.key)).status).toBe(404);
    const anonymous = await fetch(`${app.baseUrl}/api/ingest`, ingest);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);

    const prefix = key.slice(0, 16);
    await page.getByTestId(`key-${prefix}`).getByRole('button', { name: 'Revoke' }).click();
    await page.getByText(`Revoked ${prefix}`).waitFor();
    expect((await api(`/api/jobs/${jobId}`)).status).toBe(401);
    expect((await api('/api/ingest', ingest)).status).toBe(401);
    const { rows } = await db.current.pool.query(
      `SELECT count(*)::int AS n FROM ingest_jobs i JOIN projects p ON p.id = i.project_id WHERE p.name = 'browser-made'`,
    );
    expect(rows[0].n).toBe(1);
    await page.close();
  });

  it('a signed-out visitor is sent to sign in', async () => {
    const page = watched(await browser.newPage());
    const response = await page.goto(`${app.baseUrl}/admin/queue-monitor`);
    expect(page.url()).toMatch(/\/login\?next=%2Fadmin%2Fqueue-monitor|\/login\?next=\/admin\/queue-monitor/);
    expect(response?.status()).toBe(200);
    await page.close();
  });

  it('after sign-in, a ?next= that would leave the site lands on the monitor instead', async () => {
    // Chromium reads /\evil.example as //evil.example: another host.
    for (const next of ['/\\evil.example/', '//evil.example/', '/\t/evil.example/', 'https://evil.example/']) {
      const page = watched(await browser.newPage());
      await page.goto(`${app.baseUrl}/login?next=${encodeURIComponent(next)}`);
      await page.fill('#email', 'manager@e2e.test');
      await page.fill('#password', 'manager-password-1');
      await page.click('button[type=submit]');
      await page.waitForURL(/\/admin\/queue-monitor/);
      expect(new URL(page.url()).origin).toBe(app.baseUrl);
      await page.close();
    }
  });

  it('ADMIN watches a job go PENDING -> PROCESSING -> COMPLETED without reloading, retries a failed job, cancels a pending one', async () => {
    const page = watched(await browser.newPage({ viewport: { width: 1280, height: 900 } }));
    page.on('dialog', (dialog) => dialog.accept());
    await signIn(page, 'admin@e2e.test', 'admin-password-1');
    await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));

    const job = await queue.enqueue({ jobType: 'E2E_WATCH', payload: { n: 1 } });
    await row(page, job.id).locator('[data-status=PENDING]:visible').waitFor({ timeout: 12_000 });
    const claimed = await queue.claimJob(['E2E_WATCH']);
    await queue.updateProgress(claimed!, 3, 10, 'working');
    await row(page, job.id).locator('[data-status=PROCESSING]:visible').waitFor({ timeout: 12_000 });
    await expect(row(page, job.id).locator('.spinner:visible').count()).resolves.toBe(1);
    await queue.completeJob(claimed!, { ok: true });
    await row(page, job.id).locator('[data-status=COMPLETED]:visible').waitFor({ timeout: 12_000 });
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);

    const failing = await queue.enqueue({ jobType: 'E2E_FAIL', maxAttempts: 1 });
    await queue.failJob((await queue.claimJob(['E2E_FAIL']))!, new Error('e2e failure'));
    await row(page, failing.id).locator('[data-status=FAILED]:visible').waitFor({ timeout: 12_000 });
    await row(page, failing.id).getByRole('button', { name: 'Retry' }).click();
    await page.getByTestId('notice').filter({ hasText: 'Retried' }).waitFor();
    await row(page, failing.id).locator('[data-status=PENDING]:visible').waitFor();
    expect((await queue.getJob(failing.id))!.status).toBe('PENDING');

    const pending = await queue.enqueue({ jobType: 'E2E_CANCEL' });
    await row(page, pending.id).getByRole('button', { name: 'Cancel' }).click({ timeout: 12_000 });
    await page.getByTestId('notice').filter({ hasText: 'Cancelled' }).waitFor();
    await row(page, pending.id).locator('[data-status=CANCELLED]:visible').waitFor();
    expect((await queue.getJob(pending.id))!.status).toBe('CANCELLED');

    await row(page, failing.id).click();
    await page.getByTestId('job-detail').getByText('e2e failure', { exact: true }).waitFor();
    await page.getByTestId('job-timeline').getByText('attempt 1 failed (error): e2e failure').waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/queue-monitor.png`, fullPage: true });

    // A chain: the parent's detail links to the job its completion enqueued, and back.
    const parent = await queue.enqueue({ jobType: 'E2E_CHAIN' });
    await queue.completeJob((await queue.claimJob(['E2E_CHAIN']))!, { ok: true }, { enqueue: [{ jobType: 'E2E_CHAIN_NEXT' }] });
    const child = (await queue.listJobs({ jobType: 'E2E_CHAIN_NEXT' }))[0]!;
    await row(page, parent.id).click({ timeout: 12_000 });
    await page
      .getByTestId('job-children')
      .getByRole('button', { name: `Show job ${child.id}` })
      .click();
    await page.getByTestId('job-detail').getByText(child.id).waitFor();
    await page
      .getByTestId('job-parent')
      .getByRole('button', { name: `Show job ${parent.id}` })
      .waitFor();

    // The chart's history: the retried failure is still there, for the type and over each range.
    await page.locator('#chart-type option[value=E2E_FAIL]').waitFor({ state: 'attached', timeout: 12_000 });
    await page.locator('#chart-type').selectOption('E2E_FAIL');
    await page.getByTestId('chart-legend').filter({ hasText: '1 failed' }).filter({ hasText: 'E2E_FAIL' }).waitFor({ timeout: 12_000 });
    for (const range of ['24h', '7d']) {
      await page.getByRole('button', { name: range, exact: true }).click();
      await page
        .getByTestId('chart-legend')
        .filter({ hasText: '1 failed' })
        .filter({ hasText: range === '24h' ? 'last 24 hours' : 'last 7 days' })
        .waitFor({ timeout: 12_000 });
    }
    await page
      .locator('.chart')
      .first()
      .screenshot({ path: `${ARTIFACTS}/queue-monitor-chart-7d.png` });
    await page.close();
  });

  it('VIEWER sees no action buttons and gets 403 from the API; MANAGER on a phone retries a failed job with the button on screen', async () => {
    const failing = await queue.enqueue({ jobType: 'E2E_MGR', maxAttempts: 1 });
    await queue.failJob((await queue.claimJob(['E2E_MGR']))!, new Error('x'));

    const viewerPage = watched(await browser.newPage({ viewport: { width: 1280, height: 900 } }));
    await signIn(viewerPage, 'viewer@e2e.test', 'viewer-password-1');
    await row(viewerPage, failing.id).waitFor({ timeout: 12_000 });
    expect(await viewerPage.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    expect(await viewerPage.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    expect(await viewerPage.getByRole('button', { name: 'Pause type' }).count()).toBe(0);
    const forbidden = await viewerPage.evaluate(async (id) => (await fetch(`/api/admin/queue/retry?jobId=${id}`, { method: 'POST' })).status, failing.id);
    expect(forbidden).toBe(403);
    await viewerPage.close();

    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = watched(await context.newPage());
    page.on('dialog', (dialog) => dialog.accept());
    await signIn(page, 'manager@e2e.test', 'manager-password-1');
    await row(page, failing.id).waitFor({ timeout: 12_000 });
    // On the phone the progress column and the actions stay on screen (type goes under the id).
    const progress = await page.locator('table[data-testid=jobs] th', { hasText: 'Progress' }).boundingBox();
    expect(progress!.x + progress!.width).toBeLessThanOrEqual(390);
    const retryButton = row(page, failing.id).getByRole('button', { name: 'Retry' });
    const box = await retryButton.boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${ARTIFACTS}/queue-monitor-phone.png`, fullPage: true });
    await retryButton.click();
    await page.getByTestId('notice').filter({ hasText: 'Retried' }).waitFor();
    expect((await queue.getJob(failing.id))!.status).toBe('PENDING');
    // A MANAGER acts on one job at a time: bulk actions are ADMIN's.
    const bulk = await page.evaluate(
      async () =>
        (
          await fetch('/api/admin/queue/bulk', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ action: 'retry', filter: { type: 'E2E_MGR' }, dryRun: true }),
          })
        ).status,
    );
    expect(bulk).toBe(403);
    await context.close();
  });
});

describe('pausing a job type in Chromium', () => {
  it('MANAGER pauses a type: a running worker stops claiming it within a poll; resuming restarts it', async () => {
    const { Worker } = await import('pg-conveyor/worker');
    const ran: number[] = [];
    const worker = new Worker({
      queue,
      connectionString: db.current.url,
      pollIntervalMs: 300,
      logger: false,
      handlers: {
        E2E_PAUSABLE: async (job) => void ran.push((job.payload as { n: number }).n),
      },
    });
    await worker.start();
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = watched(await context.newPage());
    try {
      await signIn(page, 'manager@e2e.test', 'manager-password-1');
      await page.fill('#pause-type', 'E2E_PAUSABLE');
      await page.getByRole('button', { name: 'Pause type' }).click();
      await page.getByTestId('pause-notice').filter({ hasText: 'E2E_PAUSABLE paused' }).waitFor();
      await page.locator('[data-paused-type=E2E_PAUSABLE]').waitFor();
      const job = await queue.enqueue({ jobType: 'E2E_PAUSABLE', payload: { n: 1 } });
      await new Promise((resolve) => setTimeout(resolve, 1_200)); // four polls and the NOTIFY: none claims it
      expect(ran).toEqual([]);
      expect((await queue.getJob(job.id))!.status).toBe('PENDING');
      await page.screenshot({ path: `${ARTIFACTS}/queue-monitor-paused-phone.png`, fullPage: true });

      await page.getByRole('button', { name: 'Resume E2E_PAUSABLE' }).click();
      await page.getByTestId('pause-notice').filter({ hasText: 'E2E_PAUSABLE resumed' }).waitFor();
      for (let i = 0; i < 50 && ran.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(ran).toEqual([1]);
    } finally {
      await worker.stop();
      await context.close();
    }
  });
});

describe('schedules in Chromium', () => {
  it('ADMIN sees a schedule’s next run, runs it now and pauses it', async () => {
    await queue.schedules.register('e2e-nightly', { cron: '0 2 * * *', timezone: 'Europe/Berlin', jobType: 'E2E_NIGHTLY' });
    const page = watched(await browser.newPage({ viewport: { width: 1280, height: 900 } }));
    page.on('dialog', (dialog) => dialog.accept());
    try {
      await signIn(page, 'admin@e2e.test', 'admin-password-1');
      const row = page.locator('[data-schedule=e2e-nightly]');
      await row.waitFor({ timeout: 12_000 });
      await row.locator('td.mono', { hasText: '0 2 * * *' }).waitFor();
      await row.getByRole('button', { name: 'Run e2e-nightly now' }).click();
      await page.getByTestId('schedule-notice').filter({ hasText: 'Schedule e2e-nightly ran now' }).waitFor();
      expect((await queue.listJobs({ jobType: 'E2E_NIGHTLY' })).map((j) => j.status)).toEqual(['PENDING']);
      await row.getByRole('button', { name: 'Pause e2e-nightly' }).click();
      await row.locator('.badge', { hasText: 'paused' }).waitFor();
      expect((await queue.schedules.list()).find((s) => s.name === 'e2e-nightly')!.paused).toBe(true);
      await page.getByTestId('schedules').screenshot({ path: `${ARTIFACTS}/queue-monitor-schedules.png` });
      // Limits, edited on the page: they hold for every worker at once.
      await queue.enqueue({ jobType: 'E2E_LIMITED' });
      await page.locator('[data-type=E2E_LIMITED]').waitFor({ timeout: 12_000 });
      await page.getByTestId('edit-limits').getByLabel('Type').fill('E2E_LIMITED');
      await page.getByLabel('At most running at once').fill('2');
      await page.getByLabel('Starts per window').fill('5');
      await page.getByLabel('Window (seconds)').fill('60');
      await page.getByRole('button', { name: 'Save limits' }).click();
      await page.getByTestId('limits-notice').filter({ hasText: 'Limits of E2E_LIMITED saved' }).waitFor();
      expect((await queue.console.typeStats()).find((t) => t.jobType === 'E2E_LIMITED')!.limits).toEqual({
        concurrency: 2,
        rate: { limit: 5, periodMs: 60_000 },
      });
      await page.locator('[data-type=E2E_LIMITED]').getByText('2 at once').waitFor({ timeout: 12_000 });
      await page.getByTestId('types').screenshot({ path: `${ARTIFACTS}/queue-monitor-types.png` });
    } finally {
      await queue.schedules.remove('e2e-nightly');
      await page.close();
    }
  });
});

describe('workflow runs in Chromium', () => {
  let sendAttempts = 0;
  const report = defineWorkflow({
    name: 'e2e-report',
    input: z.object({ customer: z.string() }),
    maxAttempts: 1,
    run: async (ctx, { customer }) => {
      const rows = await ctx.step('load rows', () => Array.from({ length: 40 }, (_, i) => ({ customer, row: i })));
      const pages = await ctx.map('render pages', [1, 2, 3, 4], (page) => `page ${page} of ${rows.length} rows`);
      await ctx.step('email report', () => {
        if (++sendAttempts === 1) throw new NonRetryableError('SMTP 550: mailbox unavailable');
        return { sent: pages.length };
      });
      await ctx.sleep('cool down', customer === 'slow' ? 3_600_000 : 1);
      return { pages: pages.length };
    },
  });
  const drain = async (workflows: Workflows) => {
    const handlers = workflows.handlers();
    for (let i = 0; i < 6; i++)
      await drainQueue(queue, { types: Object.keys(handlers), handler: (job, ctx) => handlers[job.jobType]!(job, ctx), budgetMs: 3_000 });
  };
  const runRow = (page: Page, id: string) => page.locator(`tr[data-run-id="${id}"]`);

  it('ADMIN finds a failed run, reads its timeline, retries it from the failed step and watches it complete; cancels a sleeping run', async () => {
    const workflows = new Workflows(queue, [report]);
    const failed = await workflows.start('e2e-report', { customer: 'acme' });
    await drain(workflows);
    expect((await workflows.getRun(failed.runId))!.status).toBe('FAILED');

    const page = watched(await browser.newPage({ viewport: { width: 1280, height: 900 } }));
    page.on('dialog', (dialog) => dialog.accept());
    await signIn(page, 'admin@e2e.test', 'admin-password-1');
    await page.getByRole('link', { name: 'Workflow runs' }).first().click();
    await page.waitForURL(/\/admin\/workflows/);
    await runRow(page, failed.runId).locator('[data-status=FAILED]').waitFor({ timeout: 12_000 });
    await expect(runRow(page, failed.runId).getByText('email report').count()).resolves.toBe(1);

    await runRow(page, failed.runId).click();
    const timeline = page.getByTestId('timeline');
    await timeline.locator('li[data-step="load rows"][data-state=done]').waitFor();
    await timeline.locator('li[data-step="render pages"]').getByText('4 of 4 items done').waitFor();
    await timeline.locator('li[data-step="email report"][data-state=failed]').getByText('SMTP 550: mailbox unavailable').waitFor();
    await timeline.locator('li[data-step="load rows"] summary').click();
    await timeline
      .locator('li[data-step="load rows"] pre')
      .getByText(/"customer":"acme"/)
      .waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/workflow-run-failed.png`, fullPage: true });

    await page.getByRole('button', { name: 'Retry from failed step' }).click();
    await page.getByTestId('run-notice').filter({ hasText: 'Retried' }).waitFor();
    await drain(workflows); // a worker picks it up: the stored steps are not run again
    await page.getByTestId('run-detail').locator('[data-status=COMPLETED]').waitFor({ timeout: 12_000 });
    await timeline.locator('li[data-step="email report"][data-state=done]').waitFor();
    await timeline.locator('li[data-step="cool down"][data-state=slept]').waitFor();
    expect(sendAttempts).toBe(2);
    await page.screenshot({ path: `${ARTIFACTS}/workflow-run-timeline.png`, fullPage: true });

    const sleeping = await workflows.start('e2e-report', { customer: 'slow' });
    await drain(workflows);
    await page.getByRole('button', { name: 'Close' }).click();
    await runRow(page, sleeping.runId).click({ timeout: 12_000 });
    await timeline.locator('li[data-step="cool down"][data-state=sleeping]').waitFor();
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.getByTestId('run-notice').filter({ hasText: 'Cancelled' }).waitFor();
    await runRow(page, sleeping.runId).locator('[data-status=CANCELLED]').waitFor({ timeout: 12_000 });
    expect((await workflows.getRun(sleeping.runId))!.status).toBe('CANCELLED');
    await page.close();
  });

  it('MANAGER on a phone reads the runs and a timeline, sees no retry or cancel, and gets 403 from the API', async () => {
    const workflows = new Workflows(queue, [report]);
    sendAttempts = 0;
    const failed = await workflows.start('e2e-report', { customer: 'initech' });
    await drain(workflows);
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = watched(await context.newPage());
    await signIn(page, 'manager@e2e.test', 'manager-password-1');
    await page.goto(`${app.baseUrl}/admin/workflows`);
    await runRow(page, failed.runId).click({ timeout: 12_000 });
    await page.getByTestId('timeline').locator('li[data-step="email report"][data-state=failed]').waitFor();
    expect(await page.getByRole('button', { name: 'Retry from failed step' }).count()).toBe(0);
    const status = await page.evaluate(async (id) => (await fetch(`/api/admin/workflows/retry?runId=${id}`, { method: 'POST' })).status, failed.runId);
    expect(status).toBe(403);
    expect((await workflows.getRun(failed.runId))!.status).toBe('FAILED');
    await page.screenshot({ path: `${ARTIFACTS}/workflow-run-phone.png`, fullPage: true });
    await context.close();
  });
});

describe('finding jobs and bulk actions in Chromium', () => {
  const foundRows = (page: Page) => page.locator('table[data-testid=found-jobs] tbody tr[data-job-id]');

  it('ADMIN finds the one job among 10,000 by a payload path; the filter lives in the URL and opens the same view when shared', async () => {
    await db.current.pool.query(
      `INSERT INTO job_queue (job_type, payload) SELECT 'E2E_SEARCH', jsonb_build_object('customerId', g, 'plan', 'basic') FROM generate_series(1, 10000) g`,
    );
    const wanted = (await db.current.pool.query(`SELECT id FROM job_queue WHERE job_type = 'E2E_SEARCH' AND payload->>'customerId' = '4242'`)).rows[0]
      .id as string;
    const page = watched(await browser.newPage({ viewport: { width: 1280, height: 900 } }));
    await signIn(page, 'admin@e2e.test', 'admin-password-1');
    await page.getByRole('link', { name: 'Find jobs' }).click();
    await page.waitForURL(/\/admin\/jobs/);
    await page.getByLabel('Type').fill('E2E_SEARCH');
    await page.getByLabel('Payload').fill('customerId = 4242');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/payload=customerId/);
    await foundRows(page).first().waitFor();
    expect(await foundRows(page).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job-id')))).toEqual([wanted]);
    await foundRows(page).first().click();
    await page.getByTestId('job-detail').locator('summary', { hasText: 'Payload:' }).click();
    await page.getByTestId('json-payload').filter({ hasText: '"customerId": 4242' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/find-jobs.png`, fullPage: true });

    // The shared link, on a phone: the same single match.
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const phone = watched(await context.newPage());
    await signIn(phone, 'viewer@e2e.test', 'viewer-password-1');
    await phone.goto(page.url());
    await foundRows(phone).first().waitFor();
    expect(await foundRows(phone).count()).toBe(1);
    expect(await phone.getByTestId('bulk').count()).toBe(0); // VIEWER: no bulk actions
    expect(await phone.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    await phone.screenshot({ path: `${ARTIFACTS}/find-jobs-phone.png`, fullPage: true });
    await context.close();
    await page.close();
    await db.current.pool.query(`DELETE FROM job_queue WHERE job_type = 'E2E_SEARCH'`);
  });

  it('ADMIN retries 2,000 failed jobs of one type after a dry-run count; the audit log records it; GET on the bulk API is 405', async () => {
    await db.current.pool.query(
      `INSERT INTO job_queue (job_type, status, attempts, started_at, completed_at, errors)
       SELECT 'E2E_BULK', 'FAILED', 1, now(), now(), '[{"attempt":1,"at":"2026-11-28T00:00:00Z","message":"smtp down","kind":"error"}]'
         FROM generate_series(1, 2000) g`,
    );
    await db.current.pool.query(
      `INSERT INTO job_queue (job_type, status, attempts, started_at, completed_at) SELECT 'E2E_BULK_OTHER', 'FAILED', 1, now(), now() FROM generate_series(1, 30)`,
    );
    const page = watched(await browser.newPage({ viewport: { width: 1280, height: 900 } }));
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await signIn(page, 'admin@e2e.test', 'admin-password-1');
    await page.goto(`${app.baseUrl}/admin/jobs?type=E2E_BULK&status=FAILED`);
    await foundRows(page).first().waitFor();
    expect(await foundRows(page).count()).toBe(50); // one page shown...
    await page.getByLabel('Action').selectOption('retry');
    await page.getByRole('button', { name: 'Count matching' }).click();
    await page.getByTestId('bulk-count').filter({ hasText: '2,000 jobs match' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/bulk-dry-run.png`, fullPage: true });
    await page.getByTestId('bulk-run').click(); // ...but the action takes every match
    await page.getByTestId('bulk-notice').filter({ hasText: 'retry done: 2,000 jobs changed' }).waitFor({ timeout: 30_000 });
    expect(dialogs.at(-1)).toMatch(/Retry 2,000 matching jobs/);
    const { rows } = await db.current.pool.query(
      `SELECT job_type, status, count(*)::int AS n FROM job_queue WHERE job_type LIKE 'E2E_BULK%' GROUP BY 1, 2 ORDER BY 1`,
    );
    expect(rows).toEqual([
      { job_type: 'E2E_BULK', status: 'PENDING', n: 2000 },
      { job_type: 'E2E_BULK_OTHER', status: 'FAILED', n: 30 },
    ]);
    await page.getByTestId('bulk-log').getByText('admin@e2e.test').waitFor({ timeout: 12_000 });
    await page.getByTestId('bulk-log').getByText('2,000 of 2,000 counted').waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/bulk-done.png`, fullPage: true });
    const get = await page.evaluate(async () => (await fetch('/api/admin/queue/bulk')).status);
    expect(get).toBe(405);
    await page.close();
    await db.current.pool.query(`DELETE FROM job_queue WHERE job_type LIKE 'E2E_BULK%'`);
  });
});

describe('accessibility (axe-core) of every view', () => {
  const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

  it('no serious or critical violations on the sign-in, ingest, monitor, find, workflows and API keys pages, desktop and phone', async () => {
    const failed = await queue.enqueue({ jobType: 'E2E_AXE', payload: { n: 1 }, maxAttempts: 1 });
    await queue.failJob((await queue.claimJob(['E2E_AXE']))!, new Error('axe failure'));
    const found: Record<string, string[]> = {};
    for (const viewport of [
      { width: 1280, height: 900 },
      { width: 390, height: 844 },
    ]) {
      const context = await browser.newContext({ viewport });
      const page = watched(await context.newPage());
      const check = async (name: string) => {
        await page.waitForLoadState('networkidle');
        // Evaluated by the browser's debugger protocol, not as a page script, so the CSP stays as it is.
        await page.evaluate(axeSource);
        const result = await page.evaluate(() =>
          (
            window as unknown as { axe: { run: (o: unknown) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }
          ).axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
        );
        const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        // Each view as checked, on desktop and phone.
        await page.screenshot({ path: `${ARTIFACTS}/view-${name.replace(/\W+/g, '-')}-${viewport.width}.png`, fullPage: true });
        if (serious.length)
          found[`${name} @${viewport.width}`] = serious.map(
            (v) =>
              `${v.id}: ${v.nodes
                .slice(0, 3)
                .map((n) => n.target.join(' '))
                .join(', ')}`,
          );
      };
      await page.goto(`${app.baseUrl}/login`);
      await check('login');
      await page.goto(`${app.baseUrl}/`);
      await check('ingest');
      await signIn(page, 'admin@e2e.test', 'admin-password-1');
      await row(page, failed.id).waitFor({ timeout: 12_000 });
      await row(page, failed.id).click();
      await page.getByTestId('job-detail').getByText('axe failure', { exact: true }).waitFor();
      await check('queue monitor with a job open');
      await page.goto(`${app.baseUrl}/admin/jobs?type=E2E_AXE`);
      await page.locator('tr[data-job-id]').first().waitFor();
      await check('find jobs');
      await page.goto(`${app.baseUrl}/admin/workflows`);
      await check('workflow runs');
      await page.goto(`${app.baseUrl}/admin/api-keys`);
      await check('API keys');
      await context.close();
    }
    expect(found).toEqual({});
  });
});
