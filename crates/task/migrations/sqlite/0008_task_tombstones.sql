-- CalDAV's Tasks calendar (docs/calendar.md) syncs like the Schedules one: the newest change among a member's
-- tasks — `updated_at_us` of the rows that exist, `deleted_at_us` of these tombstones for the deleted ones.
CREATE TABLE task_tombstone (
    task_id       BIGINT PRIMARY KEY,
    owner_id      BIGINT NOT NULL,
    deleted_at_us BIGINT NOT NULL
);
CREATE INDEX task_tombstone_owner ON task_tombstone (owner_id, deleted_at_us);
CREATE INDEX task_owner_updated ON task (owner_id, updated_at_us);
