/**
 * The guard of the public API (ingest, job status, search): a request acts for the project of the
 * key it presents as `Authorization: Bearer <key>`, within the key's request rate. Refusals come
 * before any other work: 401 for a missing or wrong key, 429 with Retry-After past the rate.
 */
import { connections } from '@/lib/db/client';
import { HttpError } from '@/lib/http/responses';
import { authenticateApiKey, type ApiPrincipal } from './api-keys';
import { takeUsage, type Meter, type Take } from './api-quotas';

export type ApiGuarded = { ok: true; principal: ApiPrincipal } | { ok: false; response: Response };

const unauthorized = (error: string) => Response.json({ error }, { status: 401, headers: { 'www-authenticate': 'Bearer realm="conveyor"' } });

export async function requireApiKey(request: Request): Promise<ApiGuarded> {
  const header = request.headers.get('authorization');
  if (!header) return { ok: false, response: unauthorized('Missing API key: send Authorization: Bearer <key>') };
  const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
  const { pool } = connections();
  const principal = presented ? await authenticateApiKey(pool, presented) : null;
  if (!principal) return { ok: false, response: unauthorized('Invalid API key') };
  try {
    await takeOrRefuse(pool, principal, 'requests');
  } catch (error) {
    const refused = error as HttpError;
    return { ok: false, response: Response.json({ error: refused.message }, { status: refused.status, headers: refused.headers }) };
  }
  return { ok: true, principal };
}

/**
 * Takes `amount` of a meter or throws the HttpError to answer with: 429 and Retry-After when the
 * window is used up, 400 when the request alone is larger than the key's whole allowance.
 */
export async function takeOrRefuse(
  db: Parameters<typeof takeUsage>[0],
  principal: ApiPrincipal,
  meter: Meter,
  amount = 1,
): Promise<Extract<Take, { ok: true }>> {
  const take = await takeUsage(db, principal, meter, amount);
  if (take.ok) return take;
  if (!take.retryable) throw new HttpError(400, take.message);
  throw new HttpError(429, take.message, undefined, { 'retry-after': String(take.retryAfterSeconds) });
}
