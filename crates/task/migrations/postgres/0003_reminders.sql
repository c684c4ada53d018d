-- Reminders (docs/adr/0015-reminders.md, the task side): offsets from a schedule's start at which its member is
-- told, ISO 8601 durations <= 0 on the wire ("-PT10M", "PT0S"). Stored as whole seconds, comma-separated, earliest
-- first: '-600,0' is ["-PT10M", "PT0S"]; '' is an empty list (explicitly no reminder).

-- A schedule's own list; NULL: none of its own — an occurrence follows its series' list, else the member's default.
ALTER TABLE schedule ADD COLUMN reminders TEXT;
-- A series' list, inherited by its occurrences that have none of their own; NULL: the member's default.
ALTER TABLE schedule_series ADD COLUMN reminders TEXT;
-- The member's default; '0' is ["PT0S"], one push at the start (what every schedule got before reminders).
ALTER TABLE member ADD COLUMN reminders TEXT NOT NULL DEFAULT '0';
