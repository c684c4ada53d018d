-- The member's daily objective (planned against worked): whole minutes, 15 to 1440; NULL: the default, 4 hours.
ALTER TABLE member ADD COLUMN daily_objective_minutes BIGINT;
