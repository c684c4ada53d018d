-- Repeating schedules (docs/adr/0014-schedule-series.md): a series is stored once; each occurrence becomes an
-- ordinary schedule row, with its own run and statistics, when a read or the rolling job reaches it.
CREATE TABLE schedule_series (
    series_id           INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id            BIGINT NOT NULL,
    title               TEXT   NOT NULL,
    description         TEXT   NOT NULL,
    schedule_type       TEXT   NOT NULL,
    -- The first occurrence's wall-clock start ('YYYY-MM-DDTHH:MM:SS') in zone_id: RFC 5545's DTSTART.
    start_local         TEXT   NOT NULL,
    zone_id             TEXT   NOT NULL,
    -- The RRULE value as given, and EXDATE / RDATE as comma-separated wall-clock times.
    rrule               TEXT   NOT NULL,
    exdates             TEXT   NOT NULL,
    rdates              TEXT   NOT NULL,
    -- Every occurrence starting before this instant has been made a schedule row (the rolling window).
    materialized_until_us BIGINT NOT NULL,
    -- Set when the whole series was deleted: it makes no more occurrences; those started or completed stay.
    deleted_at_us       BIGINT,
    version             BIGINT NOT NULL,
    created_at_us       BIGINT NOT NULL,
    updated_at_us       BIGINT NOT NULL
);
CREATE INDEX schedule_series_owner ON schedule_series (owner_id);
CREATE INDEX schedule_series_horizon ON schedule_series (materialized_until_us);

-- An occurrence names its series and its unchanged original start (RECURRENCE-ID, wall clock in the series'
-- zone); one row per occurrence, whoever makes it first.
ALTER TABLE schedule ADD COLUMN series_id BIGINT REFERENCES schedule_series (series_id);
ALTER TABLE schedule ADD COLUMN occurrence_start TEXT;
CREATE UNIQUE INDEX schedule_series_occurrence ON schedule (series_id, occurrence_start)
    WHERE series_id IS NOT NULL;
