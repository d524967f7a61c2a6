/**
 * The console's search and bulk actions over HTTP. Searching and reading the audit log need any
 * role (VIEWER and up); bulk actions are ADMIN only, POST and same-origin, with a dry-run count
 * first. The filter is the same in the page's URL, the search API and a bulk action's body, so a
 * shared link shows exactly what an action would act on.
 */
import { z } from 'zod';
import { connections } from '@/lib/db/client';
import { appLogger } from '@/lib/observability/logger';
import { JOB_STATUSES } from 'pg-conveyor';
import { BULK_ACTIONS, jobTypeSchema, parsePayloadMatch, type BulkAction, type JobFilter } from 'pg-conveyor/console';
import { jobSummary } from './http';
import { adminRoute } from './route';

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
export const handleJobsGet = adminRoute({ name: 'admin/jobs', role: 'VIEWER', query: findQuery }, async ({ query }) => {
  const { limit, cursor, ...filter } = query;
  const found = await connections().queue.console.findJobs(toJobFilter(filter), { limit, cursor });
  return Response.json({ jobs: found.jobs.map(jobSummary), nextCursor: found.nextCursor, windowEnded: found.windowEnded });
});

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
export const handleBulkPost = adminRoute(
  {
    name: 'admin/bulk',
    role: 'ADMIN',
    mutation: true,
    body: bulkBody,
    expected: '{ action, filter, dryRun: true }, { action, filter, confirmCount } or { bulkId }',
  },
  async ({ user, body: input }) => {
    const { queue } = connections();
    if ('bulkId' in input) {
      const existing = await queue.console.getBulkAction(input.bulkId);
      if (!existing) return Response.json({ error: `No bulk action ${input.bulkId}` }, { status: 404 });
      return Response.json(bulkView(await queue.console.continueBulkAction(input.bulkId, { budgetMs: BULK_BUDGET_MS })));
    }
    const action = input.action as BulkAction['action'];
    const filter = toJobFilter(input.filter);
    if ('dryRun' in input) {
      const { count, complete } = await queue.console.countJobs(filter);
      return Response.json({ action, filter: input.filter, matching: count, complete });
    }
    const started = await queue.console.startBulkAction({ action, filter, requestedBy: user.email, matched: input.confirmCount, budgetMs: BULK_BUDGET_MS });
    appLogger().info({ admin: user.email, action, filter: input.filter, bulkId: started.id, confirmed: input.confirmCount }, `admin: bulk ${action} started`);
    return Response.json(bulkView(started));
  },
);

/** GET /api/admin/queue/bulk-actions (VIEWER): the audit log of bulk actions, newest first. */
export const handleBulkActionsGet = adminRoute({ name: 'admin/bulk-actions', role: 'VIEWER' }, async () =>
  Response.json({ actions: (await connections().queue.console.listBulkActions({ limit: 20 })).map(bulkView) }),
);
