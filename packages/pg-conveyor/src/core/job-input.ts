/**
 * Validation of everything callers hand the queue. Bad input becomes a ValidationError naming the
 * field, before any SQL runs, so a rejected call has written nothing.
 */
import { inspect } from 'node:util';
import { z } from 'zod';
import { DEFAULTS, JOB_TYPE_PATTERN, jobTypeSchema } from './config.js';
import { ValidationError } from './errors.js';
import { JOB_STATUSES } from './types.js';

const jobType = jobTypeSchema;

export const jobIdSchema = z.uuid({ message: 'must be a job id (a UUID)' });

export const enqueueSchema = z
  .object({
    jobType,
    payload: z.unknown().optional(),
    priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
    maxAttempts: z.number().int().min(1).max(1_000).optional(),
    scheduledFor: z.union([z.date(), z.iso.datetime({ offset: true })]).optional(),
    delayMs: z
      .number()
      .int()
      .min(0)
      .max(366 * 86_400_000)
      .optional(),
    concurrencyKey: z.string().min(1).max(200).optional(),
    dedupe: z
      .object({
        key: z.string().min(1).max(200),
        windowMs: z
          .number()
          .int()
          .min(1)
          .max(31 * 86_400_000)
          .optional(),
      })
      .strict()
      .optional(),
    uniqueKey: z.string().min(1).max(300).optional(),
  })
  .strict()
  .refine((j) => j.scheduledFor === undefined || j.delayMs === undefined, {
    message: 'give scheduledFor or delayMs, not both',
  })
  .refine((j) => !(j.scheduledFor instanceof Date) || !Number.isNaN(j.scheduledFor.getTime()), {
    message: 'scheduledFor is an invalid Date',
    path: ['scheduledFor'],
  });

export type ValidEnqueue = z.output<typeof enqueueSchema>;

export function parseEnqueue(input: unknown, index?: number): ValidEnqueue {
  if (isPlainEnqueue(input)) return input;
  const parsed = enqueueSchema.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod(index === undefined ? 'job' : `job #${index}`, parsed.error);
  return parsed.data;
}

const PLAIN_KEYS = new Set(['jobType', 'payload', 'priority', 'maxAttempts']);

/**
 * Hot path (a bulk enqueue validates every row): a job with only the common fields, each plainly
 * valid, is accepted without a schema walk (zod copies every object, a third of a 1,000-job
 * enqueue's own time). It accepts nothing enqueueSchema would refuse; anything else goes to the
 * schema, which also explains what is wrong.
 */
export function isPlainEnqueue(input: unknown): input is ValidEnqueue {
  if (typeof input !== 'object' || input === null || Object.getPrototypeOf(input) !== Object.prototype) return false;
  const job = input as Record<string, unknown>;
  for (const key of Object.keys(job)) if (!PLAIN_KEYS.has(key)) return false;
  const { jobType, priority, maxAttempts } = job;
  return (
    typeof jobType === 'string' &&
    JOB_TYPE_PATTERN.test(jobType) &&
    (priority === undefined || (Number.isSafeInteger(priority) && Math.abs(priority as number) <= 1_000_000)) &&
    (maxAttempts === undefined || (Number.isSafeInteger(maxAttempts) && (maxAttempts as number) >= 1 && (maxAttempts as number) <= 1_000))
  );
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The attempt a caller's Job object says it holds: the fence of every statement that moves it.
 * Checked here because the batch statements write it into an array literal (literals.ts).
 */
export function parseAttempt(attempt: unknown): number {
  if (Number.isSafeInteger(attempt) && (attempt as number) >= 0 && (attempt as number) <= 1_000) return attempt as number;
  throw new ValidationError(`Invalid job: attempts must be an integer from 0 to 1000, got ${JSON.stringify(attempt) ?? String(attempt)}`);
}

export function parseJobId(id: unknown): string {
  // Hot path (every complete/fail): a plain regex test first, zod only to explain a failure.
  if (typeof id === 'string' && UUID_PATTERN.test(id)) return id;
  const parsed = jobIdSchema.safeParse(id);
  if (!parsed.success) throw ValidationError.fromZod('jobId', parsed.error);
  return parsed.data;
}

const jobTypesSchema = z.array(jobType).min(1).max(100);
const claimLimitSchema = z.number().int().min(1).max(DEFAULTS.claimBatchMax);

export function parseJobTypes(types: unknown): string[] {
  // Hot path (every claim): one well-formed type needs no schema walk.
  if (Array.isArray(types) && types.length === 1 && typeof types[0] === 'string' && JOB_TYPE_PATTERN.test(types[0])) {
    return types as string[];
  }
  const parsed = jobTypesSchema.safeParse(types);
  if (!parsed.success) throw ValidationError.fromZod('job types', parsed.error);
  return parsed.data.length === 1 ? parsed.data : [...new Set(parsed.data)];
}

export function parseClaimLimit(limit: unknown): number {
  if (Number.isInteger(limit) && (limit as number) >= 1 && (limit as number) <= DEFAULTS.claimBatchMax) return limit as number;
  const parsed = claimLimitSchema.safeParse(limit);
  if (!parsed.success) throw ValidationError.fromZod('claim limit', parsed.error);
  return parsed.data;
}

const minutesSchema = z
  .number()
  .int()
  .min(1)
  .max(24 * 60);

export function parseMinutes(minutes: unknown): number {
  const parsed = minutesSchema.safeParse(minutes);
  if (!parsed.success) throw ValidationError.fromZod('minutes', parsed.error);
  return parsed.data;
}

const olderThanDaysSchema = z.number().finite().min(0).max(36_500);

const progressSchema = z.object({
  current: z.number().finite().min(0),
  total: z.number().finite().min(0),
  message: z.string().max(500).default(''),
});

export function parseProgress(current: unknown, total: unknown, message: unknown) {
  const parsed = progressSchema.safeParse({ current, total, message: message ?? undefined });
  if (!parsed.success) throw ValidationError.fromZod('progress', parsed.error);
  assertStoredText(parsed.data.message, 'progress.message');
  return parsed.data;
}

const listSchema = z
  .object({
    status: z.enum(JOB_STATUSES).optional(),
    jobType: jobType.optional(),
    limit: z.number().int().min(1).max(DEFAULTS.listLimitMax).default(DEFAULTS.listLimit),
  })
  .strict();

export function parseListFilter(filter: unknown) {
  const parsed = listSchema.safeParse(filter ?? {});
  if (!parsed.success) throw ValidationError.fromZod('list filter', parsed.error);
  return parsed.data;
}

export function parseOlderThanDays(days: unknown): number {
  const parsed = olderThanDaysSchema.safeParse(days);
  if (!parsed.success) throw ValidationError.fromZod('olderThanDays', parsed.error);
  return parsed.data;
}

/**
 * Serializes a payload or result for a jsonb column. Postgres refuses NUL characters and lone
 * UTF-16 surrogates in jsonb, and a huge value bloats the hot table: refuse both up front.
 */
export function toStoredJson(value: unknown, what: string, maxBytes: number): string | null {
  if (value === undefined) return null;
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new ValidationError(`Invalid ${what}: not JSON-serializable (${(error as Error).message})`);
  }
  if (json === undefined) throw new ValidationError(`Invalid ${what}: not JSON-serializable`);
  // A UTF-8 byte is at most 3 per UTF-16 unit: short JSON needs no byte count.
  if (json.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > maxBytes) throw new ValidationError(`Invalid ${what}: ${bytes} bytes exceeds the limit of ${maxBytes}`);
  }
  // JSON.stringify writes a NUL or a lone surrogate as a \u escape, so the text itself tells
  // whether any string holds one; only then walk the value, to name the place.
  if (json.includes('\\u') && UNSTORABLE_ESCAPE.test(json)) walkStrings(value, (text, path) => assertStoredText(text, `${what}${path}`));
  return json;
}

/** `\u0000` or `\ud800`-`\udfff` as JSON.stringify escapes them (an odd run of backslashes before the u). */
const UNSTORABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/;

function assertStoredText(text: string, where: string): void {
  if (text.includes('\u0000')) throw new ValidationError(`Invalid ${where}: contains a NUL character`);
  if (!text.isWellFormed()) throw new ValidationError(`Invalid ${where}: contains a lone UTF-16 surrogate`);
}

function walkStrings(value: unknown, visit: (text: string, path: string) => void, path = ''): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, i) => walkStrings(item, visit, `${path}[${i}]`));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      visit(key, `${path}.${key}`);
      walkStrings(item, visit, `${path}.${key}`);
    }
  }
}

/**
 * Error text stored per attempt: message only (never the payload), capped. A thrown non-Error
 * reads as itself: a string as it is, anything else as JSON (util.inspect where JSON fails), not
 * as "[object Object]".
 */
export function errorText(error: unknown, maxLength = DEFAULTS.maxErrorLength): string {
  const raw = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : thrownText(error);
  // Strip what Postgres cannot store in text, so recording a failure cannot itself fail.
  const clean = raw.replaceAll('\u0000', '');
  const clipped = clean.length > maxLength ? `${clean.slice(0, maxLength - 1)}…` : clean;
  return clipped.toWellFormed();
}

function thrownText(thrown: unknown): string {
  if (typeof thrown === 'string') return thrown;
  try {
    const json = JSON.stringify(thrown);
    if (json !== undefined) return json;
  } catch {
    // a BigInt or a circular object: inspect below
  }
  return inspect(thrown, { depth: 3, breakLength: Infinity });
}
