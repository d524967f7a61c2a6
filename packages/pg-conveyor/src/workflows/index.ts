/** pg-conveyor/workflows: durable workflows advanced by the queue's own jobs (workflows.ts). */
export {
  defineWorkflow,
  MapItemError,
  NonDeterminismError,
  RUN_STATUSES,
  workflowJobType,
  Workflows,
  type MapSettled,
  type WorkflowContext,
  type WorkflowDefinition,
  type WorkflowRun,
  type WorkflowRunStatus,
  type WorkflowStep,
} from './workflows.js';
