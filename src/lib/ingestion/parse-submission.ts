/**
 * POST /api/ingest bodies: JSON `{ generateEmbeddings?, records: [{ content, ...metadata }] }`, or
 * CSV (a header row with a `content` or `text` column; other columns become metadata) with
 * `?generateEmbeddings=` in the query string. The project is the API key's, never named here.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { badRequest, zodIssues } from '@/lib/http/responses';
import { INGEST_LIMITS, ingestSubmissionSchema, type IngestSubmission } from './schemas';

/**
 * The media type alone, exactly: `text/plain; x=text/csv` is text/plain. A browser sends a
 * cross-site POST with text/plain without asking first (no preflight), so a CSV or JSON body is
 * accepted only under its own type, which a cross-site form cannot send.
 */
const mediaType = (contentType: string) => contentType.split(';')[0]!.trim().toLowerCase();

export function parseSubmission(body: string, contentType: string, query: URLSearchParams): IngestSubmission {
  let candidate: unknown;
  const type = mediaType(contentType);
  for (const name of query.keys()) {
    if (name !== 'generateEmbeddings') throw badRequest(`Unknown query parameter "${name}"${name === 'project' ? ': the API key implies its project' : ''}`);
  }
  if (type === 'text/csv') {
    candidate = {
      generateEmbeddings: query.has('generateEmbeddings') ? query.get('generateEmbeddings') !== 'false' : undefined,
      records: parseCsvRecords(body),
    };
  } else if (type === 'application/json') {
    try {
      candidate = JSON.parse(body);
    } catch (error) {
      throw badRequest(`Body is not valid JSON: ${(error as Error).message}`);
    }
  } else {
    throw badRequest('Content-Type must be application/json or text/csv');
  }
  if (candidate && typeof candidate === 'object' && 'project' in candidate) {
    throw badRequest('Invalid ingestion', [{ path: 'project', message: 'the API key implies its project; remove this field', code: 'unrecognized_keys' }]);
  }
  const parsed = ingestSubmissionSchema.safeParse(candidate);
  if (!parsed.success) throw badRequest('Invalid ingestion', zodIssues(parsed.error));
  for (const [i, record] of parsed.data.records.entries()) {
    if (record.content.includes('\u0000') || !record.content.isWellFormed()) {
      throw badRequest('Invalid ingestion', [{ path: `records.${i}.content`, message: 'contains a NUL character or invalid UTF-16', code: 'custom' }]);
    }
  }
  return parsed.data;
}

function parseCsvRecords(body: string): unknown[] {
  try {
    return parseCsv(body, {
      columns: true,
      skip_empty_lines: true,
      trim: true,
      bom: true,
      to: INGEST_LIMITS.maxRecords + 1, // one past the limit, so zod reports "too many" instead of truncating
    }) as unknown[];
  } catch (error) {
    throw badRequest(`Body is not valid CSV: ${(error as Error).message}`);
  }
}
