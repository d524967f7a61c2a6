/**
 * Submitting an ingestion for the API key's project: the key's daily quotas (records, and
 * embeddings when asked for), the ingest job row (with its records) and its ingestion workflow
 * run are taken and created in one Prisma transaction, so there is never an ingest job without its
 * run (or the reverse), and a refused or failed submission uses no quota. The caller gets the id at once;
 * workers do the rest.
 */
import type { PrismaClient } from '@/generated/prisma/client';
import type { ApiPrincipal } from '@/lib/auth/api-keys';
import { takeOrRefuse } from '@/lib/auth/api-guard';
import { toStoredJson } from 'pg-conveyor';
import type { Workflows } from 'pg-conveyor/workflows';
import type { IngestSubmission } from './schemas';
import { INGESTION_WORKFLOW, type IngestionInput } from './workflow';

export interface SubmittedIngestion {
  ingestJobId: string;
  workflowRunId: string;
  projectId: string;
  totalRecords: number;
}

export async function submitIngestion(
  deps: { prisma: PrismaClient; workflows: Workflows },
  principal: ApiPrincipal,
  submission: IngestSubmission,
): Promise<SubmittedIngestion> {
  // Refused up front, as the queue refuses a payload: what jsonb cannot hold (NUL, lone surrogates), or over 1 MiB.
  toStoredJson(submission.records, 'records', 1_048_576);
  return deps.prisma.$transaction(async (tx) => {
    const project = { id: principal.projectId };
    await takeOrRefuse(tx, principal, 'records', submission.records.length);
    if (submission.generateEmbeddings) await takeOrRefuse(tx, principal, 'embeddings', submission.records.length);
    const ingest = await tx.ingestJob.create({
      data: {
        projectId: project.id,
        totalRecords: submission.records.length,
        generateEmbeddings: submission.generateEmbeddings,
        pendingRecords: submission.records,
      },
    });
    const input: IngestionInput = {
      ingestJobId: ingest.id,
      projectId: project.id,
      totalRecords: submission.records.length,
      generateEmbeddings: submission.generateEmbeddings,
    };
    const { runId } = await deps.workflows.start(INGESTION_WORKFLOW, input, { tx });
    await tx.ingestJob.update({ where: { id: ingest.id }, data: { workflowRunId: runId } });
    return { ingestJobId: ingest.id, workflowRunId: runId, projectId: project.id, totalRecords: submission.records.length };
  });
}
