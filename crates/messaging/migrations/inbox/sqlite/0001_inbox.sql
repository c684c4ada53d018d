-- Idempotent consumers: which events each consumer has processed (recorded with the effect).
CREATE TABLE messaging_inbox (
    consumer        TEXT   NOT NULL,
    event_id        TEXT   NOT NULL,
    outcome         TEXT   NOT NULL, -- 'applied' or 'stale'
    processed_at_us BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX messaging_inbox_processed ON messaging_inbox (processed_at_us);

-- The newest aggregate version each consumer has applied: older events are skipped as stale.
CREATE TABLE messaging_inbox_aggregate (
    consumer       TEXT   NOT NULL,
    aggregate_type TEXT   NOT NULL,
    aggregate_id   TEXT   NOT NULL,
    version        BIGINT NOT NULL,
    updated_at_us  BIGINT NOT NULL,
    PRIMARY KEY (consumer, aggregate_type, aggregate_id)
);

-- Failed handler runs (attempt count survives restarts) and dead letters (dead_lettered_at_us set).
-- For the in-process transport this table is the dead-letter queue; with RabbitMQ the message itself
-- sits in `<queue>.dlq` and this row keeps the error text.
CREATE TABLE messaging_inbox_failure (
    consumer            TEXT   NOT NULL,
    event_id            TEXT   NOT NULL,
    exchange            TEXT   NOT NULL,
    routing_key         TEXT   NOT NULL,
    event_type          TEXT   NOT NULL,
    payload             TEXT   NOT NULL,
    attempts            BIGINT NOT NULL,
    last_error          TEXT   NOT NULL,
    first_failed_at_us  BIGINT NOT NULL,
    last_failed_at_us   BIGINT NOT NULL,
    dead_lettered_at_us BIGINT,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX messaging_inbox_dead_letters
    ON messaging_inbox_failure (consumer, dead_lettered_at_us) WHERE dead_lettered_at_us IS NOT NULL;
