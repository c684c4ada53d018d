-- Busy time from other calendars (docs/calendar.md#busy-time-from-other-calendars): calendars a member subscribed
-- to (a URL, fetched again on a schedule) or uploaded (an .ics file, once), and their events. The file itself is
-- not kept: each event is stored as read (JSON of pinit_task::domain::busy::BusyEvent: its first occurrence, zone,
-- RRULE, EXDATE/RDATE and overrides), and expanded only for the window a read asks for.
CREATE TABLE busy_calendar (
    calendar_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id           BIGINT NOT NULL,
    name               TEXT   NOT NULL,
    -- 'url' (fetched and refreshed) or 'upload' (static).
    kind               TEXT   NOT NULL CHECK (kind IN ('url', 'upload')),
    url                TEXT,
    -- The calendar's own colour (X-APPLE-CALENDAR-COLOR or COLOR), if it has one.
    color              TEXT,
    -- What the last successful fetch answered, sent back as If-None-Match / If-Modified-Since.
    etag               TEXT,
    last_modified      TEXT,
    created_at_us      BIGINT NOT NULL,
    -- The last successful fetch (200 or 304), NULL for an upload.
    last_fetched_at_us BIGINT,
    -- The last attempt, successful or not: the refresh job's clock.
    last_attempt_at_us BIGINT,
    -- Why the last attempt failed (NULL after a success); the stored events stay what they were.
    last_error         TEXT,
    event_count        BIGINT NOT NULL DEFAULT 0,
    CHECK ((kind = 'url') = (url IS NOT NULL))
);
CREATE INDEX busy_calendar_owner ON busy_calendar (owner_id, calendar_id);
CREATE INDEX busy_calendar_due ON busy_calendar (kind, last_attempt_at_us);

CREATE TABLE busy_event (
    calendar_id    BIGINT NOT NULL REFERENCES busy_calendar (calendar_id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    owner_id       BIGINT NOT NULL,
    -- The earliest instant the event can start and the latest it can end (NULL: it repeats without end), widened
    -- by a day for floating times: a window's events are found without expanding any.
    reach_start_us BIGINT NOT NULL,
    reach_end_us   BIGINT,
    data           TEXT   NOT NULL,
    PRIMARY KEY (calendar_id, seq)
);
CREATE INDEX busy_event_owner ON busy_event (owner_id, reach_start_us);
