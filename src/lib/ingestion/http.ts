/** The ingestion API's handlers; app/api/* route files only call these. */
import { z } from 'zod';
import { connections } from '@/lib/db/client';
import { createEmbeddingProvider } from '@/lib/embeddings/provider';
import { badRequest, errorResponse, readBodyText, zodIssues } from '@/lib/http/responses';
import { parseSubmission } from './parse-submission';
import { INGEST_LIMITS } from './schemas';
import { searchSimilar } from './search';
import { getIngestionStatus } from './status';
import { submitIngestion } from './submit';

/** POST /api/ingest -> 202 { jobId, queueJobId, projectId, totalRecords } */
export async function handleIngestPost(request: Request): Promise<Response> {
  try {
    const body = await readBodyText(request, INGEST_LIMITS.maxBodyBytes);
    const submission = parseSubmission(body, request.headers.get('content-type') ?? '', new URL(request.url).searchParams);
    const { prisma, queue } = connections();
    const submitted = await submitIngestion({ prisma, queue }, submission);
    return Response.json(
      { jobId: submitted.ingestJobId, queueJobId: submitted.queueJobId, projectId: submitted.projectId, totalRecords: submitted.totalRecords },
      { status: 202 },
    );
  } catch (error) {
    return errorResponse(error, 'api/ingest');
  }
}

const uuid = z.uuid();

/** GET /api/jobs/:jobId -> the ingestion's status and progress */
export async function handleJobStatusGet(jobId: string): Promise<Response> {
  try {
    const parsed = uuid.safeParse(jobId);
    if (!parsed.success) throw badRequest('jobId must be a UUID', zodIssues(parsed.error));
    const status = await getIngestionStatus(connections().pool, parsed.data);
    if (!status) return Response.json({ error: `Ingestion ${parsed.data} not found` }, { status: 404 });
    return Response.json(status);
  } catch (error) {
    return errorResponse(error, 'api/jobs');
  }
}

const searchQuery = z.object({
  projectId: z.uuid(),
  q: z.string().trim().min(1).max(2_000),
  limit: z.coerce.number().int().min(1).max(50).default(10),
});

/** GET /api/search?projectId=&q=&limit= -> the most similar records */
export async function handleSearchGet(request: Request): Promise<Response> {
  try {
    const parsed = searchQuery.safeParse(Object.fromEntries(new URL(request.url).searchParams));
    if (!parsed.success) throw badRequest('Invalid search', zodIssues(parsed.error));
    const hits = await searchSimilar({ pool: connections().pool, provider: createEmbeddingProvider() }, {
      projectId: parsed.data.projectId,
      query: parsed.data.q,
      limit: parsed.data.limit,
    });
    return Response.json({ results: hits });
  } catch (error) {
    return errorResponse(error, 'api/search');
  }
}
