/**
 * The ingestion API's handlers; app/api/* route files only call these. Callers: holders of an API
 * key (`Authorization: Bearer <key>`), acting on the key's project only; another project's
 * ingestions answer 404 as if they did not exist. Each request counts against the key's rate.
 */
import { z } from 'zod';
import { requireApiKey, takeOrRefuse } from '@/lib/auth/api-guard';
import { connections } from '@/lib/db/client';
import { createEmbeddingProvider } from '@/lib/embeddings/provider';
import { badRequest, errorResponse, readBodyText, zodIssues } from '@/lib/http/responses';
import { parseSubmission } from './parse-submission';
import { INGEST_LIMITS } from './schemas';
import { searchSimilar } from './search';
import { getIngestionStatus } from './status';
import { appWorkflows } from '@/lib/workflows/app-workflows';
import { submitIngestion } from './submit';

/** POST /api/ingest -> 202 { jobId, workflowRunId, projectId, totalRecords } */
export async function handleIngestPost(request: Request): Promise<Response> {
  try {
    const auth = await requireApiKey(request);
    if (!auth.ok) return auth.response;
    const body = await readBodyText(request, INGEST_LIMITS.maxBodyBytes);
    const submission = parseSubmission(body, request.headers.get('content-type') ?? '', new URL(request.url).searchParams);
    const submitted = await submitIngestion({ pool: connections().pool, workflows: appWorkflows() }, auth.principal, submission);
    return Response.json(
      { jobId: submitted.ingestJobId, workflowRunId: submitted.workflowRunId, projectId: submitted.projectId, totalRecords: submitted.totalRecords },
      { status: 202 },
    );
  } catch (error) {
    return errorResponse(error, 'api/ingest');
  }
}

const uuid = z.uuid();

/** GET /api/jobs/:jobId -> the ingestion's status and progress */
export async function handleJobStatusGet(request: Request, jobId: string): Promise<Response> {
  try {
    const auth = await requireApiKey(request);
    if (!auth.ok) return auth.response;
    const parsed = uuid.safeParse(jobId);
    if (!parsed.success) throw badRequest('jobId must be a UUID', zodIssues(parsed.error));
    const status = await getIngestionStatus(connections().pool, auth.principal.projectId, parsed.data);
    if (!status) return Response.json({ error: `Ingestion ${parsed.data} not found` }, { status: 404 });
    return Response.json(status);
  } catch (error) {
    return errorResponse(error, 'api/jobs');
  }
}

// Strict: a projectId from before keys existed is refused, not silently ignored.
const searchQuery = z.strictObject({
  q: z.string().trim().min(1).max(2_000),
  limit: z.coerce.number().int().min(1).max(50).default(10),
});

/** GET /api/search?q=&limit= -> the records of the key's project most similar to q */
export async function handleSearchGet(request: Request): Promise<Response> {
  try {
    const auth = await requireApiKey(request);
    if (!auth.ok) return auth.response;
    const parsed = searchQuery.safeParse(Object.fromEntries(new URL(request.url).searchParams));
    if (!parsed.success) throw badRequest('Invalid search', zodIssues(parsed.error));
    // One query is one paid embedding call.
    await takeOrRefuse(connections().pool, auth.principal, 'embeddings', 1);
    const hits = await searchSimilar(
      { pool: connections().pool, provider: createEmbeddingProvider() },
      {
        projectId: auth.principal.projectId,
        query: parsed.data.q,
        limit: parsed.data.limit,
      },
    );
    return Response.json({ results: hits });
  } catch (error) {
    return errorResponse(error, 'api/search');
  }
}
