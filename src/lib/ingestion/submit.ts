/**
 * Submitting an ingestion for the API key's project: the key's daily quotas (records, and
 * embeddings when asked for), the ingest job row and the INGEST_DATA queue job are taken and
 * created in one Prisma transaction, so there is never an ingest job without its queue job (or
 * the reverse), and a refused or failed submission uses no quota. The caller gets the id at once;
 * workers do the rest.
 */
import type { PrismaClient } from '@/generated/prisma/client';
import type { ApiPrincipal } from '@/lib/auth/api-keys';
import { takeOrRefuse } from '@/lib/auth/api-guard';
import type { DatabaseQueue } from 'pg-conveyor';
import { JOB_TYPES, type IngestPayload, type IngestSubmission } from './schemas';

export interface SubmittedIngestion {
  ingestJobId: string;
  queueJobId: string;
  projectId: string;
  totalRecords: number;
}

export async function submitIngestion(
  deps: { prisma: PrismaClient; queue: DatabaseQueue },
  principal: ApiPrincipal,
  submission: IngestSubmission,
): Promise<SubmittedIngestion> {
  return deps.prisma.$transaction(async (tx) => {
    const project = { id: principal.projectId };
    await takeOrRefuse(tx, principal, 'records', submission.records.length);
    if (submission.generateEmbeddings) await takeOrRefuse(tx, principal, 'embeddings', submission.records.length);
    const ingest = await tx.ingestJob.create({
      data: {
        projectId: project.id,
        totalRecords: submission.records.length,
        generateEmbeddings: submission.generateEmbeddings,
      },
    });
    const payload: IngestPayload = {
      ingestJobId: ingest.id,
      projectId: project.id,
      records: submission.records,
      generateEmbeddings: submission.generateEmbeddings,
    };
    const job = await deps.queue.enqueue({ jobType: JOB_TYPES.ingest, payload }, { tx });
    await tx.ingestJob.update({ where: { id: ingest.id }, data: { queueJobId: job.id } });
    return { ingestJobId: ingest.id, queueJobId: job.id, projectId: project.id, totalRecords: submission.records.length };
  });
}
