-- Reminders (docs/adr/0015-reminders.md): a schedule has one pending notification per reminder slot — an offset
-- from its start (`offset_seconds`, <= 0; 0 is the push at the start) and, after a snooze from a device, the
-- n-th snooze of it (`snooze`, 0 for none). `due_at_us` is when it is meant to go out (start + offset, a
-- snooze's end, or the end of quiet hours holding it): the grace window runs from there. Each row's
-- `idempotent_key` is unique (the arming event's id, plus the slot), so claims, releases and deletes go by it.
-- SQLite cannot change a primary key in place: the table is rebuilt.
CREATE TABLE upcoming_notification_new (
    schedule_id        BIGINT NOT NULL,
    offset_seconds     BIGINT NOT NULL DEFAULT 0,
    snooze             BIGINT NOT NULL DEFAULT 0,
    owner_id           BIGINT NOT NULL,
    schedule_title     TEXT   NOT NULL,
    start_at_us        BIGINT NOT NULL,
    due_at_us          BIGINT NOT NULL,
    resolved           BIGINT NOT NULL,
    idempotent_key     TEXT   NOT NULL,
    next_attempt_at_us BIGINT NOT NULL,
    attempts           BIGINT NOT NULL DEFAULT 0,
    lease_owner        TEXT,
    lease_until_us     BIGINT,
    created_at_us      BIGINT NOT NULL,
    updated_at_us      BIGINT NOT NULL,
    PRIMARY KEY (schedule_id, offset_seconds, snooze)
);
INSERT INTO upcoming_notification_new (schedule_id, owner_id, schedule_title, start_at_us, due_at_us, resolved,
    idempotent_key, next_attempt_at_us, attempts, lease_owner, lease_until_us, created_at_us, updated_at_us)
SELECT schedule_id, owner_id, schedule_title, start_at_us, start_at_us, resolved, idempotent_key,
    next_attempt_at_us, attempts, lease_owner, lease_until_us, created_at_us, updated_at_us
FROM upcoming_notification;
DROP TABLE upcoming_notification;
ALTER TABLE upcoming_notification_new RENAME TO upcoming_notification;
CREATE INDEX upcoming_notification_next ON upcoming_notification (next_attempt_at_us);
CREATE INDEX upcoming_notification_lease ON upcoming_notification (lease_until_us);
CREATE UNIQUE INDEX upcoming_notification_key ON upcoming_notification (idempotent_key);

-- Which reminder each finished notification was: the offsets that went out for a start are not armed again
-- when an event re-announces that start (this replaces the watermark's `fired_start_at_us`).
ALTER TABLE notification_outcome ADD COLUMN offset_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notification_outcome ADD COLUMN snooze BIGINT NOT NULL DEFAULT 0;

-- The reminder offsets the last upcoming event named (comma-separated seconds; NULL: none seen, the push at the
-- start), armed again when a canceled schedule is NOT_STARTED again.
ALTER TABLE schedule_watermark ADD COLUMN reminders TEXT;
ALTER TABLE schedule_watermark DROP COLUMN fired_start_at_us;

-- A member's quiet hours: local wall-clock window [start, end) in `zone_id` (end < start spans midnight);
-- `mode` hold | drop; `include_at_start` 0/1.
CREATE TABLE quiet_hours (
    member_id        BIGINT PRIMARY KEY,
    enabled          BIGINT NOT NULL,
    start_minute     BIGINT NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute       BIGINT NOT NULL CHECK (end_minute BETWEEN 0 AND 1439),
    zone_id          TEXT   NOT NULL,
    mode             TEXT   NOT NULL CHECK (mode IN ('hold', 'drop')),
    include_at_start BIGINT NOT NULL,
    updated_at_us    BIGINT NOT NULL
);
