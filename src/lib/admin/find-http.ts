/**
 * The console's search and bulk actions over HTTP. Searching and reading the audit log need any
 * role (VIEWER and up); bulk actions are ADMIN only, POST and same-origin, with a dry-run count
 * first. The filter is the same in the page's URL, the search API and a bulk action's body, so a
 * shared link shows exactly what an action would act on.
 */
import { z } from 'zod';
import { crossSiteRefused, requireRole, sameOrigin } from '@/lib/auth/guard';
import { connections } from '@/lib/db/client';
import { badRequest, errorResponse, readBodyText, zodIssues } from '@/lib/http/responses';
import { appLogger } from '@/lib/observability/logger';
import { BULK_ACTIONS, JOB_STATUSES, jobTypeSchema, parsePayloadMatch, type BulkAction, type JobFilter } from 'pg-conveyor';
import { jobSummary } from './http';

/** A filter as the page's URL and the APIs carry it: strings, every one optional. */
export const consoleFilterSchema = z
  .object({
    id: z.string().trim().min(1).max(36).optional(),
    type: jobTypeSchema.optional(),
    status: z.enum(JOB_STATUSES).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    error: z.string().trim().min(1).max(200).optional(),
    /** `path = value`, e.g. `customerId = 42` or `customer.email = a@example.com`. */
    payload: z.string().trim().min(3).max(500).optional(),
  })
  .strict();

export type ConsoleFilter = z.infer<typeof consoleFilterSchema>;

/** The library's filter for a console filter (a malformed payload match is the library's ValidationError: a 400). */
export function toJobFilter(f: ConsoleFilter): JobFilter {
  return {
    ...(f.id ? { id: f.id } : {}),
    ...(f.type ? { jobType: f.type } : {}),
    ...(f.status ? { status: f.status } : {}),
    ...(f.from ? { createdAfter: f.from } : {}),
    ...(f.to ? { createdBefore: f.to } : {}),
    ...(f.error ? { error: f.error } : {}),
    ...(f.payload ? { payload: parsePayloadMatch(f.payload) } : {}),
  };
}

const findQuery = consoleFilterSchema.extend({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.uuid().optional(),
});

/**
 * GET /api/admin/queue/jobs?id=&type=&status=&from=&to=&error=&payload=&cursor=&limit= (VIEWER):
 * matching jobs, newest first, and the cursor of the next page. One request reads a bounded
 * window of the table, so a rare match may need a few pages (`windowEnded`: this page stopped at
 * the window's end, not at `limit` jobs).
 */
export async function handleJobsGet(request: Request): Promise<Response> {
  try {
    const auth = await requireRole(request, 'VIEWER');
    if (!auth.ok) return auth.response;
    const params = Object.fromEntries([...new URL(request.url).searchParams].filter(([, v]) => v !== ''));
    const parsed = findQuery.safeParse(params);
    if (!parsed.success) throw badRequest('Invalid filter', zodIssues(parsed.error));
    const { limit, cursor, ...filter } = parsed.data;
    const found = await connections().queue.findJobs(toJobFilter(filter), { limit, cursor });
    return Response.json({ jobs: found.jobs.map(jobSummary), nextCursor: found.nextCursor, windowEnded: found.windowEnded });
  } catch (error) {
    return errorResponse(error, 'admin/jobs');
  }
}

const bulkBody = z.union([
  z.object({ action: z.enum(BULK_ACTIONS as [string, ...string[]]), filter: consoleFilterSchema, dryRun: z.literal(true) }).strict(),
  z.object({ action: z.enum(BULK_ACTIONS as [string, ...string[]]), filter: consoleFilterSchema, confirmCount: z.number().int().min(0) }).strict(),
  z.object({ bulkId: z.uuid() }).strict(),
]);

function bulkView(b: BulkAction) {
  return {
    bulkId: b.id,
    action: b.action,
    filter: b.filter,
    requestedBy: b.requestedBy,
    matched: b.matched,
    affected: b.affected,
    done: b.finishedAt !== null,
    createdAt: b.createdAt.toISOString(),
    finishedAt: b.finishedAt?.toISOString() ?? null,
  };
}

/** Each request works for at most this long; the page continues an unfinished action by its id. */
const BULK_BUDGET_MS = 3_000;

/**
 * POST /api/admin/queue/bulk (ADMIN, same-origin). Three bodies:
 * - `{ action, filter, dryRun: true }`: how many jobs match, changing nothing;
 * - `{ action, filter, confirmCount }`: starts the action on every job matching (not only a page),
 *   recording who, what, the filter and the count they confirmed; works for up to 3 s;
 * - `{ bulkId }`: continues a started action for up to 3 s more.
 * Answers `{ bulkId, affected, done, ... }`; the caller continues until `done`.
 */
export async function handleBulkPost(request: Request): Promise<Response> {
  try {
    if (!sameOrigin(request)) return crossSiteRefused();
    const auth = await requireRole(request, 'ADMIN');
    if (!auth.ok) return auth.response;
    let body: unknown;
    try {
      body = JSON.parse(await readBodyText(request, 16_384));
    } catch {
      throw badRequest('Invalid body: expected JSON');
    }
    const parsed = bulkBody.safeParse(body);
    if (!parsed.success) {
      throw badRequest('Invalid body: expected { action, filter, dryRun: true }, { action, filter, confirmCount } or { bulkId }', zodIssues(parsed.error));
    }
    const { queue } = connections();
    const input = parsed.data;
    if ('bulkId' in input) {
      const existing = await queue.getBulkAction(input.bulkId);
      if (!existing) return Response.json({ error: `No bulk action ${input.bulkId}` }, { status: 404 });
      return Response.json(bulkView(await queue.continueBulkAction(input.bulkId, { budgetMs: BULK_BUDGET_MS })));
    }
    const action = input.action as BulkAction['action'];
    const filter = toJobFilter(input.filter);
    if ('dryRun' in input) {
      const { count, complete } = await queue.countJobs(filter);
      return Response.json({ action, filter: input.filter, matching: count, complete });
    }
    const started = await queue.startBulkAction({ action, filter, requestedBy: auth.user.email, matched: input.confirmCount, budgetMs: BULK_BUDGET_MS });
    appLogger().info(
      { admin: auth.user.email, action, filter: input.filter, bulkId: started.id, confirmed: input.confirmCount },
      `admin: bulk ${action} started`,
    );
    return Response.json(bulkView(started));
  } catch (error) {
    return errorResponse(error, 'admin/bulk');
  }
}

/** GET /api/admin/queue/bulk-actions (VIEWER): the audit log of bulk actions, newest first. */
export async function handleBulkActionsGet(request: Request): Promise<Response> {
  try {
    const auth = await requireRole(request, 'VIEWER');
    if (!auth.ok) return auth.response;
    return Response.json({ actions: (await connections().queue.listBulkActions({ limit: 20 })).map(bulkView) });
  } catch (error) {
    return errorResponse(error, 'admin/bulk-actions');
  }
}
