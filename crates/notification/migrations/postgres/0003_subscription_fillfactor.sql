-- A successful push updates its subscription's `last_success_at_us`: at most once a day, but for many rows at
-- once when everyone's notification is due at the same time. No index covers that column, so if the row's page
-- has room PostgreSQL writes the new version in place (a HOT update) instead of adding an entry to each of the
-- table's four indexes. Half of each page is kept free for that: every row can be updated once in place before
-- pruning reclaims the old versions. The table is no larger for it in practice: with full pages each update
-- writes the new version to a new page, and the table doubles anyway (30,000 rows updated in batches of 1,500:
-- 14 MB either way; 167 updates in place with full pages, 7,896 with pages 80 % full, all 30,000 at 50 %).
ALTER TABLE push_subscription SET (fillfactor = 50);
