/**
 * The shared secrets that guard routes: CRON_SECRET (worker routes) and METRICS_TOKEN (metrics,
 * health details). Each is presented as `Authorization: Bearer <secret>` and compared in constant
 * time, before any database work, by the queue package's checkBearer (the same check its cron
 * routes make). They fail closed: a route whose secret is not set refuses with 500
 * (misconfigured) rather than running open, unless the route allows that outside production
 * (`openWhenUnset`), and in production a secret shorter than 32 characters is refused as well.
 */
import { checkBearer as checkBearerNamed, type BearerCheck } from 'pg-conveyor/next';

export { MIN_SECRET_LENGTH, type BearerCheck } from 'pg-conveyor/next';

export type SecretName = 'CRON_SECRET' | 'METRICS_TOKEN';

type Env = Record<string, string | undefined>;

export function checkBearer(request: Request, name: SecretName, env: Env, openWhenUnset: (env: Env) => boolean): BearerCheck {
  return checkBearerNamed(request, name, env, openWhenUnset);
}
