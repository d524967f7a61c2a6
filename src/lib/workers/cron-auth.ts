/**
 * CRON_SECRET check for the worker routes, done before any database work.
 * - Production without a secret: 500, nothing runs (fail closed: an open worker URL is a DoS).
 * - Development without a secret: a warning, and the route runs (run-workers.sh, local testing).
 * - A secret is set: `Authorization: Bearer <secret>` must match, compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type CronAuthResult = { ok: true } | { ok: false; response: Response };

let warned = false;

export function authorizeCron(request: Request, env: Record<string, string | undefined> = process.env): CronAuthResult {
  const secret = env.CRON_SECRET;
  if (!secret) {
    if (env.NODE_ENV === 'production') {
      console.error('[workers] CRON_SECRET is not set: refusing to run worker routes in production');
      return { ok: false, response: Response.json({ success: false, error: 'Server misconfigured: CRON_SECRET is not set' }, { status: 500 }) };
    }
    if (!warned) {
      console.warn('[workers] CRON_SECRET is not set: worker routes are open (allowed outside production only)');
      warned = true;
    }
    return { ok: true };
  }
  const header = request.headers.get('authorization') ?? '';
  const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  if (!constantTimeEqual(presented, secret)) {
    return { ok: false, response: Response.json({ success: false, error: 'Unauthorized' }, { status: 401 }) };
  }
  return { ok: true };
}

/** Hashing first gives equal-length inputs, so neither the content nor the length leaks by timing. */
function constantTimeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
