-- One schedule lifecycle (create + start + complete of a schedule without a task) as the three
-- transactions pinit-task's use cases send on PostgreSQL: the same statements, in the same order, with
-- the same locks, version checks, statistics upsert, outbox inserts and NOTIFY. Captured from the
-- server log of a `task-throughput --log-statements` run (crates/task/src/{app,store},
-- crates/messaging/src/outbox.rs). Driven by bench/src/bin/task-throughput.rs:
--
--   pgbench -n -M prepared -c C -j 2 -T 15 -D members=100 -f bench/pgbench/schedule_lifecycle.sql DB
--
-- Each client works on random members of its own id range (client c: c*members+1 ..= c*members+members),
-- as the benchmark's workers do, so no two clients contend on a member lock. Instants are constants (the
-- values do not change the work); event ids are time-ordered like the outbox's UUIDv7 ids, payloads have
-- the same shape and size as the ones the use cases record.

\set mid :client_id * :members + random(1, :members)
\set now_us 1795628490106539
\set start_us 1795714889111955

-- create_schedule
BEGIN;
SELECT member_id, nickname, zone_id, now_running_schedule_id, version FROM member WHERE member_id = :mid FOR UPDATE
\gset m_
INSERT INTO schedule (owner_id, task_id, title, description, schedule_type, designated_start_us, state, elapsed_us, running_since_us, stats_week_start, stats_week_zone_id, version, created_at_us, updated_at_us) VALUES (:mid, NULL, 'bench schedule', 'task-throughput benchmark', 'DEEP_WORK', :start_us, 'NOT_STARTED', 0, NULL, NULL, NULL, 1, :now_us, :now_us) RETURNING schedule_id
\gset
INSERT INTO messaging_outbox (event_id, exchange, routing_key, event_type, aggregate_type, aggregate_id, aggregate_version, payload, occurred_at_us, created_at_us, next_attempt_at_us) VALUES ('01a213cc-5d7b-7023-8c81-' || lpad((3 * :schedule_id)::text, 12, '0'), 'task.schedule.direct', 'schedule.time.upcoming.updated', 'ScheduleTimeUpcomingState', 'schedule', :schedule_id, 1, '{"aggregateVersion":1,"idempotentKey":"01a213cc-5d7b-7023-8c81-da9d6ad39adf","newUpcomingTime":"2026-11-26T17:41:29.111955Z","occurredAt":"2026-11-25T17:41:30.106539168Z","ownerId":' || :mid || ',"scheduleId":' || :schedule_id || '}', :now_us, :now_us, :now_us);
NOTIFY pinit_outbox;
COMMIT;

-- start_schedule
BEGIN;
SELECT member_id, nickname, zone_id, now_running_schedule_id, version FROM member WHERE member_id = :mid FOR UPDATE
\gset m_
SELECT s.schedule_id, s.owner_id, s.task_id, s.title, s.description, s.schedule_type, s.designated_start_us, s.state, s.elapsed_us, s.running_since_us, s.stats_week_start, s.stats_week_zone_id, s.version, s.created_at_us, s.updated_at_us, lt.completed AS task_completed FROM schedule s LEFT JOIN task lt ON lt.task_id = s.task_id WHERE s.schedule_id = :schedule_id;
UPDATE schedule SET task_id = NULL, title = 'bench schedule', description = 'task-throughput benchmark', schedule_type = 'DEEP_WORK', designated_start_us = :start_us, state = 'IN_PROGRESS', elapsed_us = 0, running_since_us = :now_us, stats_week_start = NULL, stats_week_zone_id = NULL, version = version + 1, updated_at_us = :now_us WHERE schedule_id = :schedule_id AND version = 1;
UPDATE member SET now_running_schedule_id = :schedule_id, version = version + 1, updated_at_us = :now_us WHERE member_id = :mid AND version = :m_version;
INSERT INTO messaging_outbox (event_id, exchange, routing_key, event_type, aggregate_type, aggregate_id, aggregate_version, payload, occurred_at_us, created_at_us, next_attempt_at_us) VALUES ('01a213cc-5d7b-7023-8c81-' || lpad((3 * :schedule_id + 1)::text, 12, '0'), 'task.schedule.direct', 'schedule.state.started', 'ScheduleStateChanged', 'schedule', :schedule_id, 2, '{"aggregateVersion":2,"beforeState":"NOT_STARTED","idempotentKey":"01a213cc-5d7f-7565-8593-b091018d77a8","occurredAt":"2026-11-25T17:41:30.110620996Z","ownerId":' || :mid || ',"scheduleId":' || :schedule_id || '}', :now_us, :now_us, :now_us);
NOTIFY pinit_outbox;
COMMIT;

-- complete_schedule
BEGIN;
SELECT member_id, nickname, zone_id, now_running_schedule_id, version FROM member WHERE member_id = :mid FOR UPDATE
\gset m_
SELECT s.schedule_id, s.owner_id, s.task_id, s.title, s.description, s.schedule_type, s.designated_start_us, s.state, s.elapsed_us, s.running_since_us, s.stats_week_start, s.stats_week_zone_id, s.version, s.created_at_us, s.updated_at_us, lt.completed AS task_completed FROM schedule s LEFT JOIN task lt ON lt.task_id = s.task_id WHERE s.schedule_id = :schedule_id;
UPDATE schedule SET task_id = NULL, title = 'bench schedule', description = 'task-throughput benchmark', schedule_type = 'DEEP_WORK', designated_start_us = :start_us, state = 'COMPLETED', elapsed_us = 3940, running_since_us = NULL, stats_week_start = '2026-11-23', stats_week_zone_id = 'Asia/Seoul', version = version + 1, updated_at_us = :now_us WHERE schedule_id = :schedule_id AND version = 2;
UPDATE member SET now_running_schedule_id = NULL, version = version + 1, updated_at_us = :now_us WHERE member_id = :mid AND version = :m_version;
INSERT INTO statistics (member_id, week_start, zone_id, deep_work_us, admin_work_us, total_work_us, version, updated_at_us) VALUES (:mid, '2026-11-23', 'Asia/Seoul', 3940, 0, 3940, 1, :now_us) ON CONFLICT (member_id, week_start, zone_id) DO UPDATE SET deep_work_us = statistics.deep_work_us + excluded.deep_work_us, admin_work_us = statistics.admin_work_us + excluded.admin_work_us, total_work_us = statistics.total_work_us + excluded.total_work_us, version = statistics.version + 1, updated_at_us = excluded.updated_at_us;
INSERT INTO messaging_outbox (event_id, exchange, routing_key, event_type, aggregate_type, aggregate_id, aggregate_version, payload, occurred_at_us, created_at_us, next_attempt_at_us) VALUES ('01a213cc-5d7b-7023-8c81-' || lpad((3 * :schedule_id + 2)::text, 12, '0'), 'task.schedule.direct', 'schedule.state.completed', 'ScheduleStateChanged', 'schedule', :schedule_id, 3, '{"aggregateVersion":3,"beforeState":"IN_PROGRESS","idempotentKey":"01a213cc-5d83-76a7-b830-31f515e77e22","occurredAt":"2026-11-25T17:41:30.114560106Z","ownerId":' || :mid || ',"scheduleId":' || :schedule_id || '}', :now_us, :now_us, :now_us);
NOTIFY pinit_outbox;
COMMIT;
