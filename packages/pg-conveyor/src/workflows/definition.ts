/** What a workflow is (its definition) and what a run looks like when read back. */
import type { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import type { WorkflowContext } from './engine/replay.js';
import type { RunRow, StepRow } from './engine/queries.js';

export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,55}$/;

/** `I` is the input the run gets (the schema's output), `In` what start() takes (its input), `N` the name. */
export interface WorkflowDefinition<I = unknown, O = unknown, In = I, N extends string = string> {
  name: N;
  input: z.ZodType<I, In>;
  run: (ctx: WorkflowContext, input: I) => Promise<O>;
  /** Attempts per step (the advancing job's maxAttempts). Default: the queue's (3). */
  maxAttempts?: number;
}

export function defineWorkflow<const N extends string, S extends z.ZodType, O>(definition: {
  name: N;
  input: S;
  run: (ctx: WorkflowContext, input: z.output<S>) => Promise<O>;
  maxAttempts?: number;
}): WorkflowDefinition<z.output<S>, O, z.input<S>, N> {
  if (!NAME_PATTERN.test(definition.name)) throw new ValidationError(`Invalid workflow name "${definition.name}": 1-55 characters of A-Z a-z 0-9 _ . -`);
  return definition as WorkflowDefinition<z.output<S>, O, z.input<S>, N>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- matches any definition
type AnyWorkflow = WorkflowDefinition<any, any, any, string>;
/** The names of a set of definitions, and the input start() takes for each. */
export type WorkflowName<D extends AnyWorkflow> = D['name'];
export type WorkflowInput<D extends AnyWorkflow, N extends string> =
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- run() takes its input contravariantly: match any
  Extract<D, { name: N }> extends WorkflowDefinition<any, any, infer In, any> ? In : never;

export type WorkflowRunStatus = RunRow['status'];
export const RUN_STATUSES: readonly WorkflowRunStatus[] = ['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];

export interface WorkflowStep {
  seq: number;
  name: string;
  kind: 'step' | 'sleep' | 'wait' | 'map';
  /** A step's result; a map's { count } (its items' results are in the run's next step or output). */
  output: unknown;
  /** A sleep's end, or a wait's timeout. */
  wakeAt: Date | null;
  /** A wait's event, and when it was resolved (null while waiting). */
  event: string | null;
  resolvedAt: Date | null;
  attempt: number;
  completedAt: Date;
  /** A step: how long its body ran. */
  durationMs: number | null;
  /** A map: its items stored so far, those that failed for good, and the first failures. */
  items?: { total: number; done: number; failed: number; errors: { index: number; error: string }[] };
}

/** The run's active advancing job: the attempts and errors of the step it is at. */
export interface WorkflowAdvance {
  jobId: string;
  status: string;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  errors: { attempt: number; at: string; message: string; kind: string }[];
}

export interface WorkflowRun {
  id: string;
  name: string;
  status: WorkflowRunStatus;
  input: unknown;
  output: unknown;
  error: string | null;
  /** The step running or waited on now; for a FAILED run, the one that failed; null once COMPLETED. */
  currentStep: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
  steps: WorkflowStep[];
  /** getRun only: the job that will advance it next (null once finished). */
  advance?: WorkflowAdvance | null;
}

export const workflowJobType = (name: string) => `workflow:${name}`;

/** A run and its steps as getRun answers them. */
export function toRun(run: RunRow, steps: StepRow[]): WorkflowRun {
  return {
    id: run.id,
    name: run.name,
    status: run.status,
    input: run.input,
    output: run.output,
    error: run.error,
    // A run completed before runFinish cleared it still has its last step recorded: none is current.
    currentStep: run.status === 'COMPLETED' ? null : run.current_step,
    createdAt: run.created_at,
    updatedAt: run.updated_at,
    completedAt: run.completed_at,
    steps: steps.map((s) => ({
      seq: s.seq,
      name: s.name,
      kind: s.kind,
      output: s.output,
      wakeAt: s.wake_at,
      event: s.event,
      resolvedAt: s.resolved_at,
      attempt: s.attempt,
      completedAt: s.completed_at,
      durationMs: s.duration_ms,
    })),
  };
}
