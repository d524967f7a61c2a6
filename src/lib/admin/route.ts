/**
 * One shape for every admin API handler, so none can forget a step: who may call it (a role, and
 * for a mutation the same-origin check first), its query and JSON body parsed by zod (a 400 with
 * zod's issues otherwise), and whatever it throws turned into its response (errorResponse: a
 * library ValidationError is a 400, JobNotFoundError a 404, anything else a 500 with no detail).
 *
 *   export const handlePausePost = adminRoute(
 *     { name: 'admin/pause', role: 'MANAGER', mutation: true, body: pauseBody, expected: '{ jobType, paused }' },
 *     async ({ user, body }) => Response.json(...),
 *   );
 */
import type { z } from 'zod';
import { crossSiteRefused, requireRole, sameOrigin } from '@/lib/auth/guard';
import type { Role, User } from '@/lib/auth/users';
import { badRequest, errorResponse, HttpError, readBodyText, zodIssues } from '@/lib/http/responses';

/** Admin bodies are small (a filter, a name, limits); a bigger one is refused before it is read. */
const BODY_LIMIT_BYTES = 16 * 1024;

export interface AdminRequest<Q, B> {
  request: Request;
  user: User;
  /** The parsed query (empty parameters count as absent), or {} without a `query` schema. */
  query: Q;
  /** The parsed JSON body, or undefined without a `body` schema. */
  body: B;
}

export interface AdminRouteSpec<Q, B> {
  /** Names the handler in the server log when it fails. */
  name: string;
  /** The least role allowed (VIEWER < MANAGER < ADMIN). */
  role: Role;
  /** Changes something: refused unless the request comes from the app's own origin. */
  mutation?: boolean;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** What a valid body looks like, for the 400's message: '{ jobType, paused }'. */
  expected?: string;
}

export function adminRoute<Q = Record<string, never>, B = undefined, A extends unknown[] = []>(
  spec: AdminRouteSpec<Q, B>,
  handle: (input: AdminRequest<Q, B>, ...args: A) => Promise<Response>,
): (request: Request, ...args: A) => Promise<Response> {
  return async (request, ...args) => {
    try {
      if (spec.mutation && !sameOrigin(request)) return crossSiteRefused();
      const auth = await requireRole(request, spec.role);
      if (!auth.ok) return auth.response;
      const query = spec.query ? parseQuery(request, spec.query) : ({} as Q);
      const body = spec.body ? await parseBody(request, spec.body, spec.expected) : (undefined as B);
      return await handle({ request, user: auth.user, query, body }, ...args);
    } catch (error) {
      return errorResponse(error, spec.name);
    }
  };
}

function parseQuery<Q>(request: Request, schema: z.ZodType<Q>): Q {
  const params = Object.fromEntries([...new URL(request.url).searchParams].filter(([, value]) => value !== ''));
  const parsed = schema.safeParse(params);
  if (!parsed.success) throw badRequest('Invalid query', zodIssues(parsed.error));
  return parsed.data;
}

async function parseBody<B>(request: Request, schema: z.ZodType<B>, expected: string | undefined): Promise<B> {
  if ((request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase() !== 'application/json') {
    throw badRequest('Content-Type must be application/json');
  }
  let body: unknown;
  try {
    body = JSON.parse(await readBodyText(request, BODY_LIMIT_BYTES));
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw badRequest('Body is not valid JSON');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw badRequest(expected ? `Invalid body: expected ${expected}` : 'Invalid body', zodIssues(parsed.error));
  return parsed.data;
}
