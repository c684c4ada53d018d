-- CalDAV incremental sync (RFC 6578, docs/calendar.md): a client's sync token is the newest change it has seen
-- among the member's schedules — `updated_at_us` of the rows that exist, `deleted_at_us` of these tombstones
-- for the ones that were deleted — so "what changed since" is two indexed range reads.
CREATE TABLE schedule_tombstone (
    schedule_id   BIGINT PRIMARY KEY,
    owner_id      BIGINT NOT NULL,
    deleted_at_us BIGINT NOT NULL
);
CREATE INDEX schedule_tombstone_owner ON schedule_tombstone (owner_id, deleted_at_us);
CREATE INDEX schedule_owner_updated ON schedule (owner_id, updated_at_us);
