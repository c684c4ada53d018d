-- The unique (member_id, device_id) index already serves lookups by member; this index only cost writes.
DROP INDEX push_subscription_member;
