-- The W3C trace context an event was recorded in (`{"traceparent":"…","tracestate":"…"}`), sent with it as the
-- AMQP headers `traceparent`/`tracestate`; NULL when the change was made outside a trace.
ALTER TABLE messaging_outbox ADD COLUMN trace_context TEXT;
