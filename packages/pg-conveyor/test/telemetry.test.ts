/**
 * OpenTelemetry as an app with the SDK sees it: spans in the SDK's in-memory exporter, metrics from
 * an in-memory reader, W3C trace context propagation, AsyncLocalStorage for the active span. The
 * first test runs before any of it is registered (the API's no-op, as an app without an SDK).
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, metrics } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type HistogramMetricData,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { beforeAll, describe, expect, it } from 'vitest';
import { drainQueue } from 'pg-conveyor';
import { Worker } from 'pg-conveyor/worker';
import { useQueue } from './helpers/queue';
import { until } from './helpers/wait';

const t = useQueue({ poolMax: 4, backoff: { baseMs: 1 }, reset: true });
const db = t.db;
const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
let reader: PeriodicExportingMetricReader;

const storedContext = async (id: string) =>
  (await db.current.pool.query<{ trace_context: Record<string, string> | null }>('SELECT trace_context FROM job_queue WHERE id = $1', [id])).rows[0]!
    .trace_context;
const named = (name: string) => spans.getFinishedSpans().filter((s) => s.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('without an OpenTelemetry SDK', () => {
  it('stores no trace context and runs jobs as usual', async () => {
    const job = await t.queue.enqueue({ jobType: 'OTEL_NONE' });
    expect(job.traceContext).toBeNull();
    expect(await storedContext(job.id)).toBeNull();
    const result = await drainQueue(t.queue, { types: ['OTEL_NONE'], handler: async () => 'ok', budgetMs: 5_000 });
    expect(result.completed).toBe(1);
  });
});

describe('with the SDK registered', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
    reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 });
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  });

  it('an enqueue inside a request span makes a send span, child of the request, whose context is stored with the job', async () => {
    const request = trace.getTracer('app').startSpan('POST /api/ingest');
    const job = await context.with(trace.setSpan(context.active(), request), () => t.queue.enqueue({ jobType: 'OTEL_SEND', payload: { n: 1 } }));
    request.end();
    const [send] = named('send OTEL_SEND');
    expect(send).toBeDefined();
    expect(send!.kind).toBe(SpanKind.PRODUCER);
    expect(parentOf(send!)).toBe(request.spanContext().spanId);
    expect(send!.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(send!.attributes).toMatchObject({
      'messaging.system': 'pg-conveyor',
      'messaging.destination.name': 'OTEL_SEND',
      'messaging.operation.type': 'send',
    });
    const stored = await storedContext(job.id);
    expect(stored!.traceparent).toBe(`00-${send!.spanContext().traceId}-${send!.spanContext().spanId}-01`);
    expect(job.traceContext).toEqual(stored);
  });

  it('each attempt, retries included, is a process span linked to the enqueue; the handler’s own spans are its children', async () => {
    const job = await t.queue.enqueue({ jobType: 'OTEL_RETRY', maxAttempts: 3 });
    const send = named('send OTEL_RETRY')[0]!;
    let calls = 0;
    const w = new Worker({
      queue: t.queue,
      connectionString: db.current.url,
      pollIntervalMs: 20,
      logger: false,
      handlers: {
        OTEL_RETRY: async () => {
          calls++;
          await trace.getTracer('app').startActiveSpan('call the partner API', async (inner) => inner.end());
          if (calls === 1) throw new Error('partner API down');
          return 'sent';
        },
      },
    });
    await w.start();
    await until(async () => (await t.queue.getJob(job.id))!.status === 'COMPLETED');
    await w.stop();
    const attempts = named('process OTEL_RETRY');
    expect(attempts).toHaveLength(2);
    for (const span of attempts) {
      expect(span.kind).toBe(SpanKind.CONSUMER);
      expect(span.links.map((l) => l.context.spanId)).toEqual([send.spanContext().spanId]);
      expect(span.links[0]!.context.traceId).toBe(send.spanContext().traceId);
      expect(span.attributes).toMatchObject({ 'messaging.message.id': job.id, 'messaging.destination.name': 'OTEL_RETRY' });
    }
    const [first, second] = attempts;
    expect(first!.attributes).toMatchObject({ 'conveyor.job.attempt': 1, 'conveyor.job.outcome': 'failed', 'error.type': 'Error' });
    expect(first!.status.code).toBe(SpanStatusCode.ERROR);
    expect(first!.events.find((e) => e.name === 'exception')!.attributes!['exception.message']).toBe('partner API down');
    expect(second!.attributes).toMatchObject({ 'conveyor.job.attempt': 2, 'conveyor.job.outcome': 'completed' });
    expect(second!.status.code).not.toBe(SpanStatusCode.ERROR);
    const inner = named('call the partner API');
    expect(inner.map(parentOf).sort()).toEqual(attempts.map((s) => s.spanContext().spanId).sort());
  });

  it('a follow-up enqueued on completion carries the context of the attempt that made it', async () => {
    await t.queue.enqueue({ jobType: 'OTEL_CHAIN' });
    await drainQueue(t.queue, { types: ['OTEL_CHAIN'], budgetMs: 5_000, handler: async (_job, ctx) => ctx.enqueueOnComplete({ jobType: 'OTEL_NEXT' }) });
    const processSpan = named('process OTEL_CHAIN')[0]!;
    const next = (await t.queue.listJobs({ jobType: 'OTEL_NEXT' }))[0]!;
    expect((await storedContext(next.id))!.traceparent).toContain(processSpan.spanContext().spanId);
  });

  it('a batch is one process span with a link to each job’s enqueue', async () => {
    const sendSpans = [];
    for (let i = 0; i < 3; i++) {
      await t.queue.enqueue({ jobType: 'OTEL_BATCH', payload: { i } });
      sendSpans.push(named('send OTEL_BATCH').at(-1)!);
    }
    const w = new Worker({
      queue: t.queue,
      connectionString: db.current.url,
      pollIntervalMs: 20,
      logger: false,
      handlers: { OTEL_BATCH: { batch: { size: 10, handler: async (jobs) => jobs.map(() => 'ok') } } },
    });
    await w.start();
    await until(async () => (await t.queue.listJobs({ jobType: 'OTEL_BATCH', status: 'COMPLETED' })).length === 3);
    await w.stop();
    // The worker started after the three were enqueued: its first claim takes them all.
    const batches = named('process OTEL_BATCH');
    expect(batches).toHaveLength(1);
    expect(batches[0]!.links.map((l) => l.context.spanId).sort()).toEqual(sendSpans.map((s) => s.spanContext().spanId).sort());
    expect(batches[0]!.attributes).toMatchObject({ 'messaging.batch.message_count': 3, 'conveyor.job.outcome': 'completed' });
  });

  it('a bulk enqueue is one send span for all its jobs, and the metrics count jobs sent and time each attempt by outcome', async () => {
    const jobs = await t.queue.enqueueMany([{ jobType: 'OTEL_BULK' }, { jobType: 'OTEL_BULK' }, { jobType: 'OTEL_OTHER' }]);
    const bulk = named('send jobs');
    expect(bulk).toHaveLength(1);
    expect(bulk[0]!.attributes['messaging.batch.message_count']).toBe(3);
    expect(new Set(jobs.map((j) => j.traceContext!.traceparent))).toEqual(
      new Set([`00-${bulk[0]!.spanContext().traceId}-${bulk[0]!.spanContext().spanId}-01`]),
    );

    await reader.forceFlush();
    const exported = metricExporter
      .getMetrics()
      .at(-1)!
      .scopeMetrics.find((s) => s.scope.name === 'pg-conveyor')!.metrics;
    const sent = exported.find((m) => m.descriptor.name === 'messaging.client.sent.messages')!;
    const sentFor = (type: string) => sent.dataPoints.find((p) => p.attributes['messaging.destination.name'] === type)?.value;
    expect(sentFor('OTEL_BULK')).toBe(2);
    expect(sentFor('OTEL_OTHER')).toBe(1);
    expect(sentFor('OTEL_RETRY')).toBe(1);
    const duration = exported.find((m) => m.descriptor.name === 'messaging.process.duration') as HistogramMetricData;
    expect(duration.descriptor.unit).toBe('s');
    const attemptsOf = (type: string, outcome: string) =>
      duration.dataPoints.find((p) => p.attributes['messaging.destination.name'] === type && p.attributes['conveyor.job.outcome'] === outcome)?.value.count;
    expect(attemptsOf('OTEL_RETRY', 'failed')).toBe(1);
    expect(attemptsOf('OTEL_RETRY', 'completed')).toBe(1);
  });
});
