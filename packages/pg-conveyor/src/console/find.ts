/**
 * The operator's console in the library: find jobs by any filter over millions of rows, count the
 * matches for a dry run, and retry, cancel or delete every match in bounded batches with an audit
 * row. Every statement reads a bounded window (queries/jobs-find.ts), so a request's cost never
 * follows the table's size; what one window did not reach, a cursor takes up.
 */
import { z } from 'zod';
import { jobTypeSchema } from '../core/config.js';
import { ValidationError } from '../core/errors.js';
import { jobIdSchema } from '../core/job-input.js';
import { rowToJob } from '../sql/job-row.js';
import {
  bulkActionGet,
  bulkActionInsert,
  bulkActionListRecent,
  jobBulkStep,
  jobCountWindow,
  jobFind,
  jobFindWindowEnd,
  type BulkActionName,
  type BulkActionRow,
  type FindParams,
} from '../sql/jobs-find.js';
import type { QueueCore } from '../core/queue-core.js';
import { JOB_STATUSES, type Job } from '../core/types.js';

export type { BulkActionName };
export const BULK_ACTIONS: readonly BulkActionName[] = ['retry', 'cancel', 'delete'];

/**
 * What to look for; every field narrows. `id` is a whole id or its beginning (hex, dashes
 * optional). Times are the jobs' creation times. `error` is matched, case-insensitively, against
 * every error message the job has recorded. `payload` compares the value at a path of the payload
 * with a JSON value (see parsePayloadMatch for the `customer.id = 42` form).
 */
export interface JobFilter {
  id?: string;
  jobType?: string;
  status?: (typeof JOB_STATUSES)[number];
  createdAfter?: Date | string;
  createdBefore?: Date | string;
  error?: string;
  payload?: { path: string[]; equals: unknown };
}

const dateLike = z.union([z.date(), z.iso.datetime({ offset: true })]).transform((d) => new Date(d));

export const jobFilterSchema = z
  .object({
    id: z
      .string()
      .trim()
      .regex(/^[0-9a-fA-F-]{1,36}$/, 'must be a job id or its beginning (hex digits and dashes)')
      .optional(),
    jobType: jobTypeSchema.optional(),
    status: z.enum(JOB_STATUSES).optional(),
    createdAfter: dateLike.optional(),
    createdBefore: dateLike.optional(),
    error: z.string().min(1).max(200).optional(),
    payload: z
      .object({ path: z.array(z.string().min(1).max(100)).min(1).max(10), equals: z.json() })
      .strict()
      .optional(),
  })
  .strict()
  .refine((f) => !f.id || f.id.replaceAll('-', '').length <= 32, { message: 'an id has 32 hex digits', path: ['id'] });

export type ValidJobFilter = z.output<typeof jobFilterSchema>;

export function parseJobFilter(filter: unknown): ValidJobFilter {
  const parsed = jobFilterSchema.safeParse(filter ?? {});
  if (!parsed.success) throw ValidationError.fromZod('job filter', parsed.error);
  return parsed.data;
}

/**
 * `customer.id = 42` -> { path: ['customer', 'id'], equals: 42 }. The value is read as JSON when it
 * parses (numbers, true, "quoted text", objects), else as text: `email = a@example.com` matches
 * the string.
 */
export function parsePayloadMatch(text: string): { path: string[]; equals: unknown } {
  const at = text.indexOf('=');
  if (at < 1) throw new ValidationError(`Invalid payload filter "${text.slice(0, 100)}": expected path = value, e.g. customerId = 42`);
  const path = text
    .slice(0, at)
    .trim()
    .replace(/^payload\./, '')
    .split('.')
    .map((s) => s.trim());
  if (path.some((segment) => segment === '')) throw new ValidationError(`Invalid payload path "${text.slice(0, at).trim().slice(0, 100)}"`);
  const raw = text.slice(at + 1).trim();
  let equals: unknown = raw;
  try {
    equals = JSON.parse(raw);
  } catch {
    // not JSON: the text itself
  }
  return { path, equals };
}

/** A UUIDv7 id's first 12 hex digits are its Unix milliseconds. */
const idAt = (ms: number, fill: '0' | 'f') => hexToUuid(Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0').slice(-12) + fill.repeat(20));
const hexToUuid = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;

/**
 * Ids are made by the enqueuing app's clock and creation times by the database's: a time range
 * narrows the id range by this much more on each side, so clocks that far apart still find
 * every job (the creation times themselves are then checked exactly).
 */
const CLOCK_SLACK_MS = 10 * 60_000;

function toParams(f: ValidJobFilter, before: string | null): FindParams {
  const lows: string[] = [];
  const highs: string[] = [];
  if (f.id) {
    const hex = f.id.replaceAll('-', '').toLowerCase();
    lows.push(hexToUuid(hex.padEnd(32, '0')));
    highs.push(hexToUuid(hex.padEnd(32, 'f')));
  }
  if (f.createdAfter) lows.push(idAt(f.createdAfter.getTime() - CLOCK_SLACK_MS, '0'));
  if (f.createdBefore) highs.push(idAt(f.createdBefore.getTime() + CLOCK_SLACK_MS, 'f'));
  return {
    low: lows.length ? lows.sort().at(-1)! : null,
    high: highs.length ? highs.sort()[0]! : null,
    before,
    status: f.status ?? null,
    jobType: f.jobType ?? null,
    createdAfter: f.createdAfter ?? null,
    createdBefore: f.createdBefore ?? null,
    error: f.error ?? null,
    payloadPath: f.payload ? f.payload.path : null,
    payloadValue: f.payload ? JSON.stringify(f.payload.equals) : null,
  };
}

/** Rows one find request reads at most. */
export const FIND_WINDOW = 20_000;
/** Rows one count statement reads, and one bulk batch (a batch's locks are held only this long). */
const COUNT_WINDOW = 50_000;
const BULK_WINDOW = 2_000;

export interface FoundJobs {
  jobs: Job[];
  /** Pass back as `cursor` for the next page; null when the search reached the oldest job. */
  nextCursor: string | null;
  /** Whether this page stopped at its window's end rather than at `limit` matches. */
  windowEnded: boolean;
}

export async function findJobs(core: QueueCore, filter: JobFilter, options: { limit?: number; cursor?: string | null } = {}): Promise<FoundJobs> {
  const f = parseJobFilter(filter);
  const limit = options.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new ValidationError('Invalid limit: 1..500');
  const before = options.cursor ? parseUuid('cursor', options.cursor) : null;
  const p = toParams(f, before);
  const rows = await jobFind(core.db, { ...p, scan: FIND_WINDOW, limit });
  const jobs = rows.map((row) => rowToJob(row));
  if (jobs.length === limit) return { jobs, nextCursor: jobs.at(-1)!.id, windowEnded: false };
  const [end] = await jobFindWindowEnd(core.db, { ...p, scan: FIND_WINDOW });
  return { jobs, nextCursor: end?.id ?? null, windowEnded: end !== undefined };
}

/** A cursor (the id a page ended at) or a bulk action's id: a UUID, else a ValidationError naming which. */
function parseUuid(what: 'cursor' | 'bulk action id', value: string): string {
  const parsed = jobIdSchema.safeParse(value);
  if (!parsed.success) throw new ValidationError(`Invalid ${what}: ${String(value).slice(0, 100)} (expected a UUID)`);
  return parsed.data;
}

export interface JobCount {
  count: number;
  /** False when the time budget ran out first: `count` is then a lower bound. */
  complete: boolean;
}

/** How many jobs match, walking windows until the end or `budgetMs` (default 100 ms: a window started before it runs out is finished). */
export async function countJobs(core: QueueCore, filter: JobFilter, options: { budgetMs?: number } = {}): Promise<JobCount> {
  const p = toParams(parseJobFilter(filter), null);
  const deadline = Date.now() + (options.budgetMs ?? 100);
  let count = 0;
  for (;;) {
    const window = await jobCountWindow(core.db, { ...p, scan: COUNT_WINDOW });
    count += window.matched;
    if (window.scanned < COUNT_WINDOW || window.low === null) return { count, complete: true };
    p.before = window.low;
    if (Date.now() >= deadline) return { count, complete: false };
  }
}

export interface BulkAction {
  id: string;
  action: BulkActionName;
  filter: ValidJobFilter;
  requestedBy: string | null;
  /** The dry run's count the operator confirmed, when given. */
  matched: number | null;
  affected: number;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

function toBulkAction(row: BulkActionRow): BulkAction {
  return {
    id: row.id,
    action: row.action,
    filter: parseJobFilter(row.filter),
    requestedBy: row.requested_by,
    matched: row.matched,
    affected: row.affected,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}

/**
 * Records a bulk action (its audit row) and runs it for up to `budgetMs` (default 3 s). Call
 * continueBulkAction with its id until `finishedAt` is set: a serverless request stays short, and
 * an action cut off by a crash is taken up where its cursor stands.
 */
export async function startBulkAction(
  core: QueueCore,
  input: { action: BulkActionName; filter: JobFilter; requestedBy?: string; matched?: number; budgetMs?: number },
): Promise<BulkAction> {
  if (!BULK_ACTIONS.includes(input.action)) throw new ValidationError(`Invalid bulk action: ${String(input.action).slice(0, 50)}`);
  const filter = parseJobFilter(input.filter);
  const row = await bulkActionInsert(core.db, {
    action: input.action,
    filter: JSON.stringify(filter),
    requestedBy: input.requestedBy?.slice(0, 200) ?? null,
    matched: input.matched ?? null,
  });
  return continueBulkAction(core, row.id, { budgetMs: input.budgetMs });
}

export async function continueBulkAction(core: QueueCore, bulkId: string, options: { budgetMs?: number } = {}): Promise<BulkAction> {
  const id = parseUuid('bulk action id', bulkId);
  const deadline = Date.now() + (options.budgetMs ?? 3_000);
  for (;;) {
    const row = await bulkActionGet(core.db, { id });
    if (!row) throw new ValidationError(`No bulk action ${id}`);
    if (row.finished_at || Date.now() >= deadline) return toBulkAction(row);
    const p = toParams(parseJobFilter(row.filter), row.cursor);
    try {
      await jobBulkStep(core.db, { ...p, scan: BULK_WINDOW, action: row.action, bulkId: id });
    } catch (error) {
      // A job enqueued with a retried job's dedupe key between the check and the update: the
      // batch changed nothing, and its next try sees that job and leaves the retry out.
      if ((error as { constraint?: string }).constraint !== 'job_queue_dedupe_active_idx') throw error;
    }
  }
}

export async function getBulkAction(core: QueueCore, bulkId: string): Promise<BulkAction | null> {
  const row = await bulkActionGet(core.db, { id: parseUuid('bulk action id', bulkId) });
  return row ? toBulkAction(row) : null;
}

export async function listBulkActions(core: QueueCore, options: { limit?: number } = {}): Promise<BulkAction[]> {
  const limit = options.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new ValidationError('Invalid limit: 1..100');
  return (await bulkActionListRecent(core.db, { limit })).map(toBulkAction);
}
