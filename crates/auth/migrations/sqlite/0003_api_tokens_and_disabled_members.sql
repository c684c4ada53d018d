-- Personal API tokens: what a member's scripts send as `Authorization: Bearer pinit_pat_…`. Only the SHA-256 of
-- the secret is kept (docs/adr/0018-personal-api-tokens.md). scopes is a comma-separated list (`read`, `write`);
-- expires_at_us is null for a token that does not expire. Deleting the member deletes them.
CREATE TABLE api_token (
    api_token_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id       BIGINT NOT NULL REFERENCES member (member_id) ON DELETE CASCADE,
    name            TEXT   NOT NULL,
    scopes          TEXT   NOT NULL,
    secret_hash     TEXT   NOT NULL UNIQUE,
    created_at_us   BIGINT NOT NULL,
    expires_at_us   BIGINT,
    last_used_at_us BIGINT
);
CREATE INDEX api_token_member ON api_token (member_id);

-- A member an operator disabled (`pinit user disable`): no login, refresh, app password or API token until
-- enabled again.
ALTER TABLE member ADD COLUMN disabled_at_us BIGINT;
