-- `push_subscription_device` (member_id, device_id) already serves lookups by member; this index only cost
-- writes.
DROP INDEX push_subscription_member;
