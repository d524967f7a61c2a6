/**
 * The admin API for workflow runs (app/api/admin/workflows/* only call these). Reads need any
 * role (VIEWER and up), retry and cancel ADMIN, POST and same-origin only, as the queue's.
 * Admins see a run's input, outputs and errors as previews of at most PREVIEW_CHARS.
 */
import { z } from 'zod';
import { badRequest } from '@/lib/http/responses';
import { appLogger } from '@/lib/observability/logger';
import { appWorkflows } from '@/lib/workflows/app-workflows';
import { parseJobId } from 'pg-conveyor/console';
import { RUN_STATUSES, type WorkflowRun, type WorkflowRunStatus } from 'pg-conveyor/workflows';
import { adminRoute } from './route';

export const PREVIEW_CHARS = 300;

/** JSON of a value, cut to PREVIEW_CHARS (with the full length said), or null for none. */
export function preview(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const json = JSON.stringify(value);
  return json.length > PREVIEW_CHARS ? `${json.slice(0, PREVIEW_CHARS)}… (${json.length} characters)` : json;
}

const iso = (date: Date | string | null | undefined) => (date ? new Date(date).toISOString() : null);

function runSummary(run: Omit<WorkflowRun, 'steps'>) {
  const end = run.completedAt ? new Date(run.completedAt).getTime() : Date.now();
  return {
    id: run.id,
    name: run.name,
    status: run.status,
    // Where a live or failed run stands; a finished one stands nowhere.
    currentStep: run.status === 'RUNNING' || run.status === 'FAILED' ? run.currentStep : null,
    error: run.error,
    createdAt: iso(run.createdAt),
    completedAt: iso(run.completedAt),
    durationMs: end - new Date(run.createdAt).getTime(),
  };
}

const listQuery = z.object({
  status: z.enum(RUN_STATUSES as [WorkflowRunStatus, ...WorkflowRunStatus[]]).optional(),
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,55}$/)
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

/** GET /api/admin/workflows?status=&name=&limit= (VIEWER): the newest runs */
export const handleRunsGet = adminRoute({ name: 'admin/workflows', role: 'VIEWER', query: listQuery }, async ({ query }) => {
  const runs = await appWorkflows().listRuns(query);
  return Response.json({ runs: runs.map(runSummary) });
});

/** GET /api/admin/workflows/:runId (VIEWER): the run and its timeline */
export const handleRunGet = adminRoute({ name: 'admin/workflow', role: 'VIEWER' }, async (_input, runId: string) => {
  const run = await appWorkflows().getRun(runId);
  if (!run) return Response.json({ error: `Run ${runId} not found` }, { status: 404 });
  return Response.json({
    run: {
      ...runSummary(run),
      input: preview(run.input),
      output: preview(run.output),
      advance: run.advance ? { ...run.advance, runAt: iso(run.advance.runAt) } : null,
      steps: run.steps.map((step) => ({
        seq: step.seq,
        name: step.name,
        kind: step.kind,
        attempt: step.attempt,
        completedAt: iso(step.completedAt),
        durationMs: step.durationMs,
        output: step.kind === 'map' ? null : preview(step.output),
        wakeAt: iso(step.wakeAt),
        event: step.event,
        resolvedAt: iso(step.resolvedAt),
        items: step.items ?? null,
      })),
    },
  });
});

/** POST /api/admin/workflows/{retry,cancel}?runId= (ADMIN) */
export const handleRunActionPost = adminRoute(
  { name: 'admin/workflows/action', role: 'ADMIN', mutation: true },
  async ({ request, user }, action: 'retry' | 'cancel') => {
    const raw = new URL(request.url).searchParams.get('runId');
    if (!raw) throw badRequest('Missing runId parameter');
    const runId = parseJobId(raw);
    const workflows = appWorkflows();
    const run = action === 'retry' ? await workflows.retryRun(runId) : await workflows.cancelRun(runId);
    if (!run) return Response.json({ error: `Run ${runId} not found` }, { status: 404 });
    appLogger().info({ admin: user.email, action, runId, workflow: run.name }, `admin: workflow run ${action}`);
    return Response.json({ success: true, runId, status: run.status });
  },
);
