/**
 * Submitting an ingestion for the API key's project: the key's daily quotas (records, and
 * embeddings when asked for) are taken first, each in a statement of its own, then the ingest job
 * row (with its records) and its ingestion workflow run are created in one Prisma transaction, so
 * there is never an ingest job without its run (or the reverse). A refused take writes nothing; a
 * submission that fails after its takes gives them back. The takes hold the quota's row only for
 * their own commit, so one key's submissions run side by side. Never over-granted (each take is
 * guarded by the limit); the one way to be charged for nothing is the process dying between the
 * takes and the refund (at most the submissions in flight then, and in the key's favour never).
 * The caller gets the id at once; workers do the rest.
 */
import type { PrismaClient } from '@/generated/prisma/client';
import type { ApiPrincipal } from '@/lib/auth/api-keys';
import { takeOrRefuse } from '@/lib/auth/api-guard';
import { refundUsage, type Meter } from '@/lib/auth/api-quotas';
import { appLogger } from '@/lib/observability/logger';
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
  const taken = await takeQuotas(deps.prisma, principal, submission);
  try {
    return await createIngestion(deps, principal, submission);
  } catch (error) {
    await refund(deps.prisma, principal, taken);
    throw error;
  }
}

type Taken = { meter: Meter; amount: number; windowStart: Date }[];

/** Records, then embeddings when asked for: both or neither (a refused second gives the first back). */
async function takeQuotas(prisma: PrismaClient, principal: ApiPrincipal, submission: IngestSubmission): Promise<Taken> {
  const amount = submission.records.length;
  const taken: Taken = [];
  try {
    taken.push({ meter: 'records', amount, windowStart: (await takeOrRefuse(prisma, principal, 'records', amount)).windowStart });
    if (submission.generateEmbeddings) {
      taken.push({ meter: 'embeddings', amount, windowStart: (await takeOrRefuse(prisma, principal, 'embeddings', amount)).windowStart });
    }
    return taken;
  } catch (error) {
    await refund(prisma, principal, taken);
    throw error;
  }
}

async function refund(prisma: PrismaClient, principal: ApiPrincipal, taken: Taken): Promise<void> {
  for (const { meter, amount, windowStart } of taken) {
    await refundUsage(prisma, principal, meter, amount, windowStart).catch((error) =>
      appLogger().error({ err: error, keyId: principal.keyId, meter, amount }, 'could not give back the quota of a failed submission'),
    );
  }
}

function createIngestion(
  deps: { prisma: PrismaClient; workflows: Workflows },
  principal: ApiPrincipal,
  submission: IngestSubmission,
): Promise<SubmittedIngestion> {
  return deps.prisma.$transaction(async (tx) => {
    const project = { id: principal.projectId };
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
