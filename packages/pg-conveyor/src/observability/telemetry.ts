/**
 * OpenTelemetry, through @opentelemetry/api only: with no SDK registered by the app every call here
 * is the API's no-op, and nothing is stored with a job.
 *
 * Spans follow the messaging semantic conventions (messaging.system "pg-conveyor", the job type as
 * the destination):
 *   - `send <type>` (PRODUCER) around each enqueue statement, a child of whatever span is active
 *     (the request's). Its context is injected with the app's propagator (W3C traceparent by
 *     default) and stored with the jobs (job_queue.trace_context).
 *   - `process <type>` (CONSUMER) around each attempt, with a link to the stored context: every
 *     attempt, retries included, points back at the request that enqueued the job. The handler
 *     runs inside it, so its own spans (HTTP calls, queries) are its children. A batch is one span
 *     with a link per job.
 * Metrics: `messaging.client.sent.messages` (jobs enqueued) and `messaging.process.duration`
 * (seconds per attempt, with `conveyor.job.outcome`: completed, failed, released, lost).
 */
import {
  context,
  metrics,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Counter,
  type Histogram,
  type Link,
  type MeterProvider,
  type Span,
} from '@opentelemetry/api';

const NAME = 'pg-conveyor';
const SYSTEM = { 'messaging.system': NAME };

/** What propagation.inject wrote for one enqueue: stored as JSON with its jobs. */
export type TraceCarrier = Record<string, string>;

let instruments: { provider: MeterProvider; sent: Counter; duration: Histogram } | null = null;

/**
 * The meter's instruments, made again if the app registered its MeterProvider after the last
 * call: the metrics API hands out no-op instruments until one is registered, and keeps them.
 */
function meter() {
  const provider = metrics.getMeterProvider();
  if (instruments?.provider !== provider) {
    const m = provider.getMeter(NAME);
    instruments = {
      provider,
      sent: m.createCounter('messaging.client.sent.messages', { description: 'Jobs enqueued', unit: '{message}' }),
      duration: m.createHistogram('messaging.process.duration', { description: 'Duration of one attempt of a job (or a batch)', unit: 's' }),
    };
  }
  return instruments;
}

const tracer = () => trace.getTracer(NAME);

/** The destination attributes of jobs of one or several types. */
function destination(types: string[]): Attributes {
  const distinct = [...new Set(types)];
  return distinct.length === 1 ? { 'messaging.destination.name': distinct[0] } : {};
}

/**
 * Runs an enqueue statement inside a `send` span; `insert` gets the carrier to store with the
 * jobs (null when there is nothing to propagate: no SDK, or no propagator).
 */
export async function tracedEnqueue<T>(types: string[], insert: (carrier: TraceCarrier | null) => Promise<T>): Promise<T> {
  const distinct = [...new Set(types)];
  const attributes: Attributes = {
    ...SYSTEM,
    ...destination(distinct),
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'enqueue',
    ...(types.length > 1 ? { 'messaging.batch.message_count': types.length } : {}),
  };
  return tracer().startActiveSpan(`send ${distinct.length === 1 ? distinct[0] : 'jobs'}`, { kind: SpanKind.PRODUCER, attributes }, async (span) => {
    try {
      const carrier: TraceCarrier = {};
      propagation.inject(context.active(), carrier);
      const result = await insert(Object.keys(carrier).length > 0 ? carrier : null);
      const { sent } = meter();
      for (const type of distinct) sent.add(types.filter((t) => t === type).length, { ...SYSTEM, 'messaging.destination.name': type });
      return result;
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * The active span's context as a carrier (JSON), for jobs enqueued without a send span of their
 * own: follow-ups, stored by the completion of the job whose process span is active.
 */
export function activeCarrier(): string | null {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? JSON.stringify(carrier) : null;
}

/** The link to where a job was enqueued, if its stored carrier holds a valid span context. */
function linkTo(carrier: TraceCarrier | null): Link | null {
  if (!carrier) return null;
  const spanContext = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, carrier));
  return spanContext && trace.isSpanContextValid(spanContext) ? { context: spanContext } : null;
}

interface ProcessedJob {
  id: string;
  jobType: string;
  attempts: number;
  traceContext: TraceCarrier | null;
}

/** Lets an attempt tell its span what the handler threw, before the queue stores it. */
export interface AttemptSpan {
  handlerFailed(error: unknown): void;
}

/**
 * Runs one attempt (of a job, or of a batch of one type) inside a `process` span linked to each
 * job's enqueue. `run` answers the outcome, which names the span's status and the metric's label.
 */
export async function tracedProcess<T extends string | Record<string, number>>(jobs: ProcessedJob[], run: (span: AttemptSpan) => Promise<T>): Promise<T> {
  const first = jobs[0]!;
  const links = jobs.map((job) => linkTo(job.traceContext)).filter((link): link is Link => link !== null);
  const attributes: Attributes = {
    ...SYSTEM,
    'messaging.destination.name': first.jobType,
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    ...(jobs.length === 1 ? { 'messaging.message.id': first.id, 'conveyor.job.attempt': first.attempts } : { 'messaging.batch.message_count': jobs.length }),
  };
  const started = performance.now();
  return tracer().startActiveSpan(`process ${first.jobType}`, { kind: SpanKind.CONSUMER, attributes, links }, async (span) => {
    let outcome = 'failed';
    try {
      const result = await run({ handlerFailed: (error) => recordError(span, error) });
      outcome = typeof result === 'string' ? result : summarize(result);
      span.setAttribute('conveyor.job.outcome', outcome);
      if (outcome === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: 'the handler failed' });
      return result;
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
      meter().duration.record((performance.now() - started) / 1000, {
        ...SYSTEM,
        'messaging.destination.name': first.jobType,
        'conveyor.job.outcome': outcome,
      });
    }
  });
}

/** A batch's outcome as one word: the worst that happened to any of its jobs. */
function summarize(counts: Record<string, number>): string {
  for (const outcome of ['failed', 'lost', 'released']) if ((counts[outcome] ?? 0) > 0) return outcome;
  return 'completed';
}

/** The exception event and error.type; the span's status is its caller's to set. */
function recordError(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setAttribute('error.type', error instanceof Error ? error.name : 'Error');
}

function failSpan(span: Span, error: unknown): void {
  recordError(span, error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
