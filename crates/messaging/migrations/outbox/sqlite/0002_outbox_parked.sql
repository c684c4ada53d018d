-- A row that failed `relay.max_attempts` publishes is parked: no longer claimed or retried, left out of the
-- backlog, kept (never pruned) until an operator re-drives it by clearing `parked_at_us` (docs/messaging.md).
ALTER TABLE messaging_outbox ADD COLUMN parked_at_us BIGINT;

DROP INDEX messaging_outbox_pending;
CREATE INDEX messaging_outbox_pending
    ON messaging_outbox (seq) WHERE published_at_us IS NULL AND parked_at_us IS NULL;
DROP INDEX messaging_outbox_aggregate_pending;
CREATE INDEX messaging_outbox_aggregate_pending
    ON messaging_outbox (aggregate_type, aggregate_id, seq) WHERE published_at_us IS NULL AND parked_at_us IS NULL;
CREATE INDEX messaging_outbox_parked ON messaging_outbox (seq) WHERE parked_at_us IS NOT NULL;
