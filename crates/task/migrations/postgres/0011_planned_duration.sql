-- A schedule's planned length (`plannedDuration`, whole minutes from 1 to 1440; NULL: not set, shown as an hour),
-- and a repeating schedule's, which the occurrences it makes start with.
ALTER TABLE schedule ADD COLUMN planned_minutes BIGINT;
ALTER TABLE schedule_series ADD COLUMN planned_minutes BIGINT;
