-- How many pushes in a row the SSRF guard refused for this subscription (its endpoint's host resolves to no public
-- address). Reset by a successful push or a new address; at 3 the subscription is removed (docs/notifications.md).
ALTER TABLE push_subscription ADD COLUMN refusals BIGINT NOT NULL DEFAULT 0;
