-- App passwords: what calendar apps sign in with (HTTP Basic on /dav), never the account password. Only the
-- SHA-256 of the secret is kept (docs/adr/0016-app-passwords.md). Deleting the member deletes them.
CREATE TABLE app_password (
    app_password_id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id       BIGINT NOT NULL REFERENCES member (member_id) ON DELETE CASCADE,
    name            TEXT   NOT NULL,
    secret_hash     TEXT   NOT NULL UNIQUE,
    created_at_us   BIGINT NOT NULL,
    last_used_at_us BIGINT
);
CREATE INDEX app_password_member ON app_password (member_id);
