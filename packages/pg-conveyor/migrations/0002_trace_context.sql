-- The trace context of the span that enqueued each job (OpenTelemetry's propagation carrier,
-- for example {"traceparent": "00-...-01"}), so every attempt's processing span can link to the
-- request that asked for the work. NULL when the app records no traces. A nullable column without
-- a default: added without rewriting the table.
ALTER TABLE "job_queue" ADD COLUMN "trace_context" JSONB;
