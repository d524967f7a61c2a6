/** Sign-in and sign-out handlers. */
import { z } from 'zod';
import { connections } from '@/lib/db/client';
import { badRequest, errorResponse, readBodyText, zodIssues } from '@/lib/http/responses';
import { crossSiteRefused, currentUser, sameOrigin } from './guard';
import { clearedSessionCookie, cookieFromHeader, endSession, readSessionValue, sessionSecret, startSession } from './session';
import { attemptSucceeded, takeAttempt, throttleKeys } from './throttle';
import { authenticate } from './users';
import { appLogger } from '@/lib/observability/logger';

const loginSchema = z.object({ email: z.string().min(1).max(254), password: z.string().min(1).max(200) });

/** POST /api/auth/login { email, password } -> 200 + session cookie, 401, or 429 while throttled (throttle.ts) */
export async function handleLoginPost(request: Request): Promise<Response> {
  try {
    if (!sameOrigin(request)) return crossSiteRefused();
    sessionSecret(); // fail closed before any work: no password check, no attempt counted
    let body: unknown;
    try {
      body = JSON.parse(await readBodyText(request, 10_000));
    } catch (error) {
      if (error instanceof SyntaxError) throw badRequest('Body is not valid JSON');
      throw error;
    }
    const parsed = loginSchema.safeParse(body);
    if (!parsed.success) throw badRequest('Invalid sign-in', zodIssues(parsed.error));
    const { pool } = connections();
    const keys = throttleKeys(parsed.data.email, request);
    const blocked = await takeAttempt(pool, keys);
    if (blocked > 0) {
      return Response.json({ error: `Too many failed sign-ins: try again in ${blocked} s` }, { status: 429, headers: { 'retry-after': String(blocked) } });
    }
    const user = await authenticate(pool, parsed.data.email, parsed.data.password);
    if (!user) {
      appLogger().warn({ throttleKeys: keys }, 'failed sign-in');
      return Response.json({ error: 'Wrong email or password' }, { status: 401 });
    }
    await attemptSucceeded(pool, keys);
    return Response.json({ user }, { headers: { 'set-cookie': await startSession(pool, user.id) } });
  } catch (error) {
    return errorResponse(error, 'auth/login');
  }
}

/** POST /api/auth/logout -> ends the session (a copy of the cookie stops working too) and clears the cookie */
export async function handleLogoutPost(request: Request): Promise<Response> {
  try {
    if (!sameOrigin(request)) return crossSiteRefused();
    const sid = await readSessionValue(cookieFromHeader(request.headers.get('cookie')));
    if (sid) await endSession(connections().pool, sid);
    return Response.json({ success: true }, { headers: { 'set-cookie': clearedSessionCookie() } });
  } catch (error) {
    return errorResponse(error, 'auth/logout');
  }
}

/** GET /api/auth/me -> the signed-in user, or 401 */
export async function handleMeGet(request: Request): Promise<Response> {
  try {
    const user = await currentUser(request.headers.get('cookie'));
    return user ? Response.json({ user }) : Response.json({ error: 'Not signed in' }, { status: 401 });
  } catch (error) {
    return errorResponse(error, 'auth/me');
  }
}
