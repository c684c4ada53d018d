-- Transactional outbox: one row per event, written in the producer's business transaction.
CREATE TABLE messaging_outbox (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id           TEXT    NOT NULL UNIQUE,
    exchange           TEXT    NOT NULL,
    routing_key        TEXT    NOT NULL,
    event_type         TEXT    NOT NULL,
    aggregate_type     TEXT    NOT NULL,
    aggregate_id       TEXT    NOT NULL,
    aggregate_version  BIGINT,
    payload            TEXT    NOT NULL,
    occurred_at_us     BIGINT  NOT NULL,
    created_at_us      BIGINT  NOT NULL,
    attempts           BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at_us BIGINT  NOT NULL,
    claimed_by         TEXT,
    claimed_until_us   BIGINT,
    last_error         TEXT,
    published_at_us    BIGINT
);

CREATE INDEX messaging_outbox_pending ON messaging_outbox (seq) WHERE published_at_us IS NULL;
CREATE INDEX messaging_outbox_aggregate_pending
    ON messaging_outbox (aggregate_type, aggregate_id, seq) WHERE published_at_us IS NULL;
CREATE INDEX messaging_outbox_published ON messaging_outbox (published_at_us) WHERE published_at_us IS NOT NULL;
