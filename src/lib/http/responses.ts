/**
 * JSON responses for the app's routes. Errors never carry a stack trace: a 400 names the bad input
 * (zod's issues), a 500 says only that the server failed (details go to the server log).
 */
import type { z } from 'zod';
import { InvalidJobStateError, JobNotFoundError, ValidationError } from 'pg-conveyor';
import { appLogger } from '@/lib/observability/logger';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly issues?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export function zodIssues(error: z.ZodError) {
  return error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message, code: issue.code }));
}

export function badRequest(message: string, issues?: unknown): HttpError {
  return new HttpError(400, message, issues);
}

/** Turns anything thrown by a route into the response a client should see. */
export function errorResponse(error: unknown, context: string): Response {
  if (error instanceof HttpError) {
    return Response.json({ error: error.message, ...(error.issues ? { issues: error.issues } : {}) }, { status: error.status, headers: error.headers });
  }
  if (error instanceof ValidationError) {
    return Response.json(
      { error: error.message, issues: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code })) },
      { status: 400 },
    );
  }
  if (error instanceof JobNotFoundError) return Response.json({ error: error.message }, { status: 404 });
  if (error instanceof InvalidJobStateError) {
    return Response.json({ error: error.message, currentStatus: error.currentStatus }, { status: 400 });
  }
  appLogger().error({ context, err: error }, `${context} failed`);
  return Response.json({ error: 'Internal server error' }, { status: 500 });
}

/** Reads at most `maxBytes` of the body, refusing larger ones with 413 before buffering them. */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError(413, `Body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`);
  }
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new HttpError(413, `Body exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const text = new TextDecoder('utf-8', { fatal: true });
  try {
    return text.decode(Buffer.concat(chunks));
  } catch {
    throw badRequest('Body is not valid UTF-8');
  }
}
