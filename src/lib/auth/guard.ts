/**
 * Route guards. Deny by default: a route gets a user only through `requireRole`, which answers
 * 401 (no valid session) or 403 (role too low) itself. Mutations also pass `sameOrigin`.
 */
import { connections } from '@/lib/db/client';
import { cookieFromHeader, readSessionValue, sessionUser } from './session';
import { hasRole, type Role, type User } from './users';

export type Guarded = { ok: true; user: User } | { ok: false; response: Response };

export async function currentUser(cookieHeader: string | null): Promise<User | null> {
  const sid = await readSessionValue(cookieFromHeader(cookieHeader));
  return sid ? sessionUser(connections().pool, sid) : null;
}

export async function requireRole(request: Request, atLeast: Role): Promise<Guarded> {
  const user = await currentUser(request.headers.get('cookie'));
  if (!user) return { ok: false, response: Response.json({ error: 'Not signed in' }, { status: 401 }) };
  if (!hasRole(user.role, atLeast)) {
    return { ok: false, response: Response.json({ error: `Forbidden: needs ${atLeast} or above` }, { status: 403 }) };
  }
  return { ok: true, user };
}

/**
 * Cross-site request refusal for state-changing routes. Browsers send Sec-Fetch-Site (and Origin
 * on POST); a request from another site carries one of them, and is refused. Clients that are
 * not browsers (curl, scripts) send neither and are judged by their session alone.
 *
 * The Origin must be the app's own: APP_ORIGIN when set (scheme, host and port, e.g.
 * https://conveyor.example.com), else the Host the request was sent to. Never X-Forwarded-Host:
 * any client can send that header, and a proxy that does not overwrite it passes it through.
 */
export function sameOrigin(request: Request, env: Record<string, string | undefined> = process.env): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return false;
  const origin = request.headers.get('origin');
  if (!origin) return true;
  try {
    const from = new URL(origin);
    if (env.APP_ORIGIN) return from.origin === new URL(env.APP_ORIGIN).origin;
    return from.host === (request.headers.get('host') ?? new URL(request.url).host);
  } catch {
    return false;
  }
}

export const crossSiteRefused = () => Response.json({ error: 'Cross-site request refused' }, { status: 403 });
