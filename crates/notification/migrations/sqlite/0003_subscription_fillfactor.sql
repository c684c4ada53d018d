-- PostgreSQL only (push_subscription's fillfactor, for in-place updates of last_success_at_us); SQLite has no
-- such setting. Kept so both backends have the same migration versions.
SELECT 1;
