/**
 * CRON_SECRET check for the worker routes, done before any database work (http/secrets.ts).
 * - No secret: 500, nothing runs (an open worker URL is a DoS), in every environment, unless
 *   CONVEYOR_OPEN_WORKER_ROUTES=1 opens them outside production (a warning is logged once).
 *   `npm run dev` needs neither: it generates a secret for its app and its worker loop.
 * - In production the secret must be at least 32 characters.
 * - A secret is set: `Authorization: Bearer <secret>` must match.
 */
import { checkBearer } from '@/lib/http/secrets';
import { appLogger } from '@/lib/observability/logger';

export type CronAuthResult = { ok: true } | { ok: false; response: Response };

let warned = false;

/** CONVEYOR_OPEN_WORKER_ROUTES=1 outside production: the worker routes run without a secret. */
export const openForDevelopment = (env: Record<string, string | undefined>) => {
  const open = env.CONVEYOR_OPEN_WORKER_ROUTES === '1' && env.NODE_ENV !== 'production';
  if (open && !warned) {
    appLogger().warn({}, 'CRON_SECRET is not set and CONVEYOR_OPEN_WORKER_ROUTES=1: worker routes are open');
    warned = true;
  }
  return open;
};

export function authorizeCron(request: Request, env: Record<string, string | undefined> = process.env): CronAuthResult {
  const check = checkBearer(request, 'CRON_SECRET', env, openForDevelopment);
  if (check.ok) return { ok: true };
  if (check.status === 500) appLogger().error({}, `${check.error}: refusing to run worker routes`);
  return { ok: false, response: Response.json({ success: false, error: check.error }, { status: check.status }) };
}
