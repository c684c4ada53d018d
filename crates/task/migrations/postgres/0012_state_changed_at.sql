-- When a schedule's run state last changed (start, pause, complete, cancel): the earliest a later change may be
-- dated by a client that was offline (ADR 0004, "Dated changes"). NULL in rows older than it.
ALTER TABLE schedule ADD COLUMN state_changed_at_us BIGINT;
