/**
 * pg-conveyor/workflows: durable workflows advanced by the queue's own jobs (workflows.ts).
 *
 * @module pg-conveyor/workflows
 */
export {
  defineWorkflow,
  MapItemError,
  NonDeterminismError,
  RUN_STATUSES,
  workflowJobType,
  Workflows,
  type MapSettled,
  type WorkflowAdvance,
  type WorkflowContext,
  type WorkflowDefinition,
  type WorkflowInput,
  type WorkflowName,
  type WorkflowRun,
  type WorkflowRunStatus,
  type WorkflowStep,
} from './workflows.js';
