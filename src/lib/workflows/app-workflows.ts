/**
 * The app's workflows, over its shared queue: the ingestion pipeline. One instance per queue (a
 * new DATABASE_URL in tests makes a new queue, and with it a new instance).
 */
import { Workflows } from 'pg-conveyor/workflows';
import { connections } from '@/lib/db/client';
import { sharedEmbeddingProvider } from '@/lib/embeddings/provider';
import { ingestionWorkflow } from '@/lib/ingestion/workflow';

export const ingestion = ingestionWorkflow(() => ({ pool: connections().pool, provider: sharedEmbeddingProvider }));

const byQueue = new WeakMap<object, Workflows>();

export function appWorkflows(): Workflows {
  const { queue } = connections();
  let workflows = byQueue.get(queue);
  if (!workflows) byQueue.set(queue, (workflows = new Workflows(queue, [ingestion])));
  return workflows;
}
