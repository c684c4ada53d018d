-- Webhooks (docs/adr/0019-webhooks.md): a member's endpoints, and one delivery per (endpoint, event).
--
-- `events` lists the event types the endpoint receives (comma-separated names, `schedule.created,…`). `secret` is
-- the Standard Webhooks signing secret (`whsec_` + base64), kept as it is: signing needs it. `failures` counts
-- deliveries given up in a row (a success resets it); reaching the limit, a 410 answer, or the member disables the
-- endpoint (`disabled_at_us`, `disabled_reason`).
CREATE TABLE webhook_endpoint (
    endpoint_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id       BIGINT NOT NULL,
    url             TEXT   NOT NULL,
    events          TEXT   NOT NULL,
    description     TEXT   NOT NULL DEFAULT '',
    secret          TEXT   NOT NULL,
    failures        BIGINT NOT NULL DEFAULT 0,
    disabled_at_us  BIGINT,
    disabled_reason TEXT,
    created_at_us   BIGINT NOT NULL,
    updated_at_us   BIGINT NOT NULL
);
CREATE INDEX webhook_endpoint_member ON webhook_endpoint (member_id);

-- One event for one endpoint: inserted in the consumer's inbox transaction, unique per (endpoint, event) so a
-- redelivered event adds nothing. `subject` is what deliveries are ordered within (`schedule:42`, `task:3`), by
-- `position` (the aggregate version, 0 when unknown) then `delivery_id`: a pending delivery waits while an earlier
-- one of the same endpoint and subject is pending. `state` pending | delivered | failed; a dispatcher claims a due
-- pending one with a lease (`lease_owner`, `lease_until_us`).
CREATE TABLE webhook_delivery (
    delivery_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id        BIGINT NOT NULL REFERENCES webhook_endpoint (endpoint_id) ON DELETE CASCADE,
    event_id           TEXT   NOT NULL,
    event_type         TEXT   NOT NULL,
    subject            TEXT   NOT NULL,
    position           BIGINT NOT NULL,
    payload            TEXT   NOT NULL,
    state              TEXT   NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at_us BIGINT,
    lease_owner        TEXT,
    lease_until_us     BIGINT,
    last_status        BIGINT,
    last_error         TEXT,
    last_attempt_at_us BIGINT,
    created_at_us      BIGINT NOT NULL,
    updated_at_us      BIGINT NOT NULL,
    CONSTRAINT webhook_delivery_event UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_delivery_due ON webhook_delivery (next_attempt_at_us) WHERE state = 'pending';
CREATE INDEX webhook_delivery_order ON webhook_delivery (endpoint_id, subject, position, delivery_id)
    WHERE state = 'pending';
CREATE INDEX webhook_delivery_updated ON webhook_delivery (updated_at_us);
