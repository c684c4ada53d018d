-- CalDAV's Tasks calendar is writable (docs/calendar.md): what a calendar app put into it is kept like its
-- events are (`calendar_object`): the resource name the app chose and its UID, the task it became, and the lines
-- of its VTODO Pinit does not represent — given back on every read, never dropped. A task made in Pinit has no
-- row: its name is its id and its UID is Pinit's.
CREATE TABLE task_object (
    task_id       BIGINT PRIMARY KEY,
    owner_id      BIGINT NOT NULL,
    name          TEXT   NOT NULL,
    uid           TEXT   NOT NULL,
    extra         TEXT   NOT NULL,
    updated_at_us BIGINT NOT NULL,
    CONSTRAINT task_object_name UNIQUE (owner_id, name),
    CONSTRAINT task_object_uid UNIQUE (owner_id, uid)
);

-- The resource name of a deleted task that a calendar app had named, so a sync reports its deletion under the
-- name the app knows (NULL: the task's id).
ALTER TABLE task_tombstone ADD COLUMN name TEXT;
