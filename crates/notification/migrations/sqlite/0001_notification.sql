-- Push subscriptions: member 1—N devices, device 1—1 subscription (an FCM token or a Web Push subscription).
-- `address` (the token or the endpoint) belongs to one (member, device) at a time: subscribing it again from
-- another member moves it (a shared browser after a re-login).
CREATE TABLE push_subscription (
    subscription_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id          BIGINT NOT NULL,
    device_id          TEXT   NOT NULL,
    kind               TEXT   NOT NULL CHECK (kind IN ('fcm', 'webpush')),
    address            TEXT   NOT NULL,
    p256dh             TEXT,
    auth_secret        TEXT,
    created_at_us      BIGINT NOT NULL,
    updated_at_us      BIGINT NOT NULL,
    last_success_at_us BIGINT,
    CONSTRAINT push_subscription_device UNIQUE (member_id, device_id),
    CONSTRAINT push_subscription_address UNIQUE (address)
);
CREATE INDEX push_subscription_member ON push_subscription (member_id);
CREATE INDEX push_subscription_updated ON push_subscription (updated_at_us);

-- The pending "schedule is starting" notification of each schedule (at most one). It is due at the schedule's
-- start; `next_attempt_at_us` is when a dispatcher should look at it next (the start, or a retry). A dispatcher
-- claims it with a lease (`lease_owner`, `lease_until_us`); an event that moves or re-arms it clears the lease,
-- so the claimer's conditional delete misses and the new time stands.
CREATE TABLE upcoming_notification (
    schedule_id        BIGINT PRIMARY KEY,
    owner_id           BIGINT NOT NULL,
    schedule_title     TEXT   NOT NULL,
    start_at_us        BIGINT NOT NULL,
    -- 0: the start time is not confirmed yet (a re-arm made while the task service was unreachable).
    resolved           BIGINT NOT NULL,
    -- The event id that armed it; travels to the device as `idempotentKey` (the same on every re-send).
    idempotent_key     TEXT   NOT NULL,
    next_attempt_at_us BIGINT NOT NULL,
    attempts           BIGINT NOT NULL DEFAULT 0,
    lease_owner        TEXT,
    lease_until_us     BIGINT,
    created_at_us      BIGINT NOT NULL,
    updated_at_us      BIGINT NOT NULL
);
CREATE INDEX upcoming_notification_next ON upcoming_notification (next_attempt_at_us);
CREATE INDEX upcoming_notification_lease ON upcoming_notification (lease_until_us);

-- Per schedule: the newest event applied (aggregate version, else occurredAt), whether it was deleted, and the
-- start time of the last notification that went out, so late, reordered or re-published events change nothing.
CREATE TABLE schedule_watermark (
    schedule_id       BIGINT PRIMARY KEY,
    version           BIGINT,
    occurred_at_us    BIGINT,
    deleted           BIGINT NOT NULL DEFAULT 0,
    fired_start_at_us BIGINT,
    updated_at_us     BIGINT NOT NULL
);
CREATE INDEX schedule_watermark_updated ON schedule_watermark (updated_at_us);

-- One row per (notification, device): sent | retrying | gone | failed, with attempts and the last answer.
CREATE TABLE push_delivery (
    idempotent_key     TEXT   NOT NULL,
    device_id          TEXT   NOT NULL,
    schedule_id        BIGINT NOT NULL,
    owner_id           BIGINT NOT NULL,
    kind               TEXT   NOT NULL,
    status             TEXT   NOT NULL CHECK (status IN ('sent', 'retrying', 'gone', 'failed')),
    attempts           BIGINT NOT NULL,
    last_http_status   BIGINT,
    last_error         TEXT,
    next_attempt_at_us BIGINT,
    start_at_us        BIGINT NOT NULL,
    sent_at_us         BIGINT,
    updated_at_us      BIGINT NOT NULL,
    PRIMARY KEY (idempotent_key, device_id)
);
CREATE INDEX push_delivery_schedule ON push_delivery (schedule_id);
CREATE INDEX push_delivery_updated ON push_delivery (updated_at_us);

-- How each notification ended: delivered | partial | failed | no_devices | suppressed | expired.
CREATE TABLE notification_outcome (
    idempotent_key TEXT   PRIMARY KEY,
    schedule_id    BIGINT NOT NULL,
    owner_id       BIGINT NOT NULL,
    start_at_us    BIGINT NOT NULL,
    outcome        TEXT   NOT NULL,
    detail         TEXT,
    devices        BIGINT NOT NULL,
    delivered      BIGINT NOT NULL,
    finished_at_us BIGINT NOT NULL
);
CREATE INDEX notification_outcome_schedule ON notification_outcome (schedule_id);
CREATE INDEX notification_outcome_finished ON notification_outcome (finished_at_us);
