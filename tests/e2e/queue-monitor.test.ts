/**
 * The queue monitor in a real browser (Debian's Chromium driven by playwright-core) against the
 * production build of the app and a real database.
 */
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../scripts/ensure-chromium.mjs';
import { createUser } from '@/lib/auth/users';
import { DatabaseQueue } from '@/lib/queue/db-queue';
import { useTestDatabase } from '../helpers/db';
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
  app = await startApp({ DATABASE_URL: db.current.url, SESSION_SECRET: 's'.repeat(48), CRON_SECRET: 'e2e-cron-'.padEnd(40, 'x') });
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
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

describe('queue monitor in Chromium', () => {
  it('a signed-out visitor is sent to sign in', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${app.baseUrl}/admin/queue-monitor`);
    expect(page.url()).toMatch(/\/login\?next=%2Fadmin%2Fqueue-monitor|\/login\?next=\/admin\/queue-monitor/);
    expect(response?.status()).toBe(200);
    await page.close();
  });

  it('after sign-in, a ?next= that would leave the site lands on the monitor instead', async () => {
    // Chromium reads /\evil.example as //evil.example: another host.
    for (const next of ['/\\evil.example/', '//evil.example/', '/\t/evil.example/', 'https://evil.example/']) {
      const page = await browser.newPage();
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
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (dialog) => dialog.accept());
    await signIn(page, 'admin@e2e.test', 'admin-password-1');
    await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));

    const job = await queue.enqueue({ jobType: 'E2E_WATCH', payload: { n: 1 } });
    await row(page, job.id).locator('[data-status=PENDING]').waitFor({ timeout: 12_000 });
    const claimed = await queue.claimJob(['E2E_WATCH']);
    await queue.updateProgress(claimed!, 3, 10, 'working');
    await row(page, job.id).locator('[data-status=PROCESSING]').waitFor({ timeout: 12_000 });
    await expect(row(page, job.id).locator('.spinner').count()).resolves.toBe(1);
    await queue.completeJob(claimed!, { ok: true });
    await row(page, job.id).locator('[data-status=COMPLETED]').waitFor({ timeout: 12_000 });
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);

    const failing = await queue.enqueue({ jobType: 'E2E_FAIL', maxAttempts: 1 });
    await queue.failJob((await queue.claimJob(['E2E_FAIL']))!, new Error('e2e failure'));
    await row(page, failing.id).locator('[data-status=FAILED]').waitFor({ timeout: 12_000 });
    await row(page, failing.id).getByRole('button', { name: 'Retry' }).click();
    await page.getByTestId('notice').filter({ hasText: 'Retried' }).waitFor();
    await row(page, failing.id).locator('[data-status=PENDING]').waitFor();
    expect((await queue.getJob(failing.id))!.status).toBe('PENDING');

    const pending = await queue.enqueue({ jobType: 'E2E_CANCEL' });
    await row(page, pending.id).getByRole('button', { name: 'Cancel' }).click({ timeout: 12_000 });
    await page.getByTestId('notice').filter({ hasText: 'Cancelled' }).waitFor();
    await row(page, pending.id).locator('[data-status=CANCELLED]').waitFor();
    expect((await queue.getJob(pending.id))!.status).toBe('CANCELLED');

    await row(page, failing.id).click();
    await page.getByTestId('job-detail').getByText('e2e failure').waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/queue-monitor.png`, fullPage: true });
    await page.close();
  });

  it('MANAGER sees no mutation buttons and gets 403 from the API', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await context.newPage();
    const failing = await queue.enqueue({ jobType: 'E2E_MGR', maxAttempts: 1 });
    await queue.failJob((await queue.claimJob(['E2E_MGR']))!, new Error('x'));
    await signIn(page, 'manager@e2e.test', 'manager-password-1');
    await row(page, failing.id).waitFor({ timeout: 12_000 });
    expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    const status = await page.evaluate(async (id) => (await fetch(`/api/admin/queue/retry?jobId=${id}`, { method: 'POST' })).status, failing.id);
    expect(status).toBe(403);
    await page.screenshot({ path: `${ARTIFACTS}/queue-monitor-phone.png`, fullPage: true });
    await context.close();
  });
});
