-- What calendar apps put into a member's calendar over CalDAV (docs/calendar.md): the resource name the app
-- chose (`{name}.ics`) and its UID, the schedule it became, and the iCalendar lines of its event that Pinit does
-- not represent (alarms, attendees, X- properties, …) — kept verbatim and given back on every read, never
-- dropped. A schedule made in Pinit has no row: its name is its id and its UID is Pinit's.
CREATE TABLE calendar_object (
    schedule_id   BIGINT PRIMARY KEY,
    owner_id      BIGINT NOT NULL,
    name          TEXT   NOT NULL,
    uid           TEXT   NOT NULL,
    extra         TEXT   NOT NULL,
    updated_at_us BIGINT NOT NULL,
    CONSTRAINT calendar_object_name UNIQUE (owner_id, name),
    CONSTRAINT calendar_object_uid UNIQUE (owner_id, uid)
);

-- The resource name of a deleted schedule that a calendar app had named, so a sync reports its deletion under
-- the name the app knows (NULL: the schedule's id).
ALTER TABLE schedule_tombstone ADD COLUMN name TEXT;
