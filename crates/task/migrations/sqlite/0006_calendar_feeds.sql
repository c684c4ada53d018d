-- Calendar subscription feeds (docs/calendar.md#subscription-feeds): a read-only iCalendar document behind an
-- unguessable URL. Only the SHA-256 of the URL's token is kept (hex); the URL is shown once, when the feed is created
-- or rotated. Revoking a feed deletes its row, so its URL answers 404 from then on.
CREATE TABLE calendar_feed (
    feed_id            INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id           BIGINT NOT NULL,
    -- 'planned' (the member's schedules) or 'tracked' (what was worked).
    kind               TEXT   NOT NULL CHECK (kind IN ('planned', 'tracked')),
    token_digest       TEXT   NOT NULL UNIQUE,
    -- The token's last four characters, to tell feeds apart in the list.
    token_hint         TEXT   NOT NULL,
    created_at_us      BIGINT NOT NULL,
    -- The last rotation (a new token; the old URL is dead), NULL if never rotated.
    rotated_at_us      BIGINT,
    -- The last time the feed was fetched (by anyone holding the URL), NULL if never.
    last_fetched_at_us BIGINT
);
CREATE INDEX calendar_feed_owner ON calendar_feed (owner_id, feed_id);
