-- The task context's schema (docs/adr/0006-task-service.md). Instants are BIGINT microseconds since the
-- Unix epoch (UTC); dates are TEXT 'YYYY-MM-DD' with their IANA zone in a column of their own.

-- Members: the local projection of auth's accounts, created from `member.created` (never generated here).
-- The row is also the per-member lock every write use case takes first.
CREATE TABLE member (
    member_id               BIGINT  PRIMARY KEY,
    nickname                TEXT,
    zone_id                 TEXT    NOT NULL,
    -- The running slot: the schedule IN_PROGRESS or SUSPENDED (suspend keeps it; ADR 0004).
    now_running_schedule_id BIGINT,
    version                 BIGINT  NOT NULL,
    created_at_us           BIGINT  NOT NULL,
    updated_at_us           BIGINT  NOT NULL
);

CREATE TABLE task (
    task_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id         BIGINT  NOT NULL,
    title            TEXT    NOT NULL,
    description      TEXT    NOT NULL,
    deadline_date    TEXT    NOT NULL,
    deadline_zone_id TEXT    NOT NULL,
    importance       BIGINT  NOT NULL,
    difficulty       BIGINT  NOT NULL,
    -- 0/1: sqlx `Any` cannot read SQLite booleans back.
    completed        BIGINT  NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
    -- The aggregate version carried by task events (task.completed / task.canceled).
    version          BIGINT  NOT NULL,
    created_at_us    BIGINT  NOT NULL,
    updated_at_us    BIGINT  NOT NULL
);
CREATE INDEX task_owner_deadline ON task (owner_id, deadline_date, task_id);
CREATE INDEX task_owner_completed_deadline ON task (owner_id, completed, deadline_date, task_id);

-- Dependency edges: from_id must be completed before to_id. Set semantics (primary key).
CREATE TABLE dependency (
    from_id  BIGINT NOT NULL REFERENCES task (task_id) ON DELETE CASCADE,
    to_id    BIGINT NOT NULL REFERENCES task (task_id) ON DELETE CASCADE,
    owner_id BIGINT NOT NULL,
    PRIMARY KEY (from_id, to_id),
    CHECK (from_id <> to_id)
);
CREATE INDEX dependency_to ON dependency (to_id);
CREATE INDEX dependency_owner ON dependency (owner_id);

CREATE TABLE schedule (
    schedule_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id            BIGINT NOT NULL,
    -- At most one schedule per task; detached (NULL) when the task is deleted without its schedules.
    task_id             BIGINT UNIQUE REFERENCES task (task_id),
    title               TEXT   NOT NULL,
    description         TEXT   NOT NULL,
    schedule_type       TEXT   NOT NULL,
    designated_start_us BIGINT NOT NULL,
    state               TEXT   NOT NULL,
    elapsed_us          BIGINT NOT NULL,
    -- Set exactly in IN_PROGRESS.
    running_since_us    BIGINT,
    -- The statistics bucket a COMPLETED schedule recorded into (set exactly in COMPLETED).
    stats_week_start    TEXT,
    stats_week_zone_id  TEXT,
    version             BIGINT NOT NULL,
    created_at_us       BIGINT NOT NULL,
    updated_at_us       BIGINT NOT NULL
);
CREATE INDEX schedule_owner_start ON schedule (owner_id, designated_start_us, schedule_id);

-- Weekly statistics, one row per (member, week start, zone the week was computed in).
CREATE TABLE statistics (
    member_id     BIGINT NOT NULL,
    week_start    TEXT   NOT NULL,
    zone_id       TEXT   NOT NULL,
    deep_work_us  BIGINT NOT NULL,
    admin_work_us BIGINT NOT NULL,
    total_work_us BIGINT NOT NULL,
    version       BIGINT NOT NULL,
    updated_at_us BIGINT NOT NULL,
    PRIMARY KEY (member_id, week_start, zone_id)
);
