/**
 * The shared secrets that guard routes: CRON_SECRET (worker routes) and METRICS_TOKEN (metrics,
 * health details). Each is presented as `Authorization: Bearer <secret>` and compared in constant
 * time, before any database work. They fail closed: a route whose secret is not set refuses with
 * 500 (misconfigured) rather than running open, unless the route allows that outside production
 * (`openWhenUnset`), and in production a secret shorter than 32 characters is refused as well.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const MIN_SECRET_LENGTH = 32;

export type SecretName = 'CRON_SECRET' | 'METRICS_TOKEN';

export type BearerCheck =
  | { ok: true; presented: boolean }
  | { ok: false; status: 401 | 500; error: string };

type Env = Record<string, string | undefined>;

/**
 * Whether `request` carries the secret `name`. With the secret unset: allowed (presented: false)
 * when `openWhenUnset(env)` says so, else refused as misconfigured.
 */
export function checkBearer(request: Request, name: SecretName, env: Env, openWhenUnset: (env: Env) => boolean): BearerCheck {
  const secret = env[name];
  if (!secret) {
    if (openWhenUnset(env)) return { ok: true, presented: false };
    return { ok: false, status: 500, error: `Server misconfigured: ${name} is not set` };
  }
  if (env.NODE_ENV === 'production' && secret.length < MIN_SECRET_LENGTH) {
    return { ok: false, status: 500, error: `Server misconfigured: ${name} must be at least ${MIN_SECRET_LENGTH} characters` };
  }
  const header = request.headers.get('authorization') ?? '';
  const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  if (!constantTimeEqual(presented, secret)) return { ok: false, status: 401, error: 'Unauthorized' };
  return { ok: true, presented: true };
}

/** Hashing first gives equal-length inputs, so neither the content nor the length leaks by timing. */
function constantTimeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
