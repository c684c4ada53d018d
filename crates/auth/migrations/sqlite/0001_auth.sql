-- Members: local accounts and accounts created by an OAuth login.
CREATE TABLE member (
    member_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    nickname       TEXT,
    zone_id        TEXT    NOT NULL,
    social_login   BOOLEAN NOT NULL DEFAULT 0,
    created_at_us  BIGINT  NOT NULL
);

-- External identities (issuer + subject) linked to a member. Naver's issuer is the reference's string.
CREATE TABLE oauth_account (
    issuer_uri     TEXT   NOT NULL,
    sub            TEXT   NOT NULL,
    member_id      BIGINT NOT NULL REFERENCES member (member_id) ON DELETE CASCADE,
    created_at_us  BIGINT NOT NULL,
    PRIMARY KEY (issuer_uri, sub)
);

-- A refresh-token family: one login's chain of rotated tokens. Revoking it logs that session out.
CREATE TABLE refresh_family (
    family_id      TEXT   PRIMARY KEY,
    member_id      BIGINT NOT NULL REFERENCES member (member_id) ON DELETE CASCADE,
    created_at_us  BIGINT NOT NULL,
    revoked_at_us  BIGINT,
    revoked_reason TEXT
);
CREATE INDEX refresh_family_member ON refresh_family (member_id);

-- Every refresh token issued (SHA-256 only). rotated_at_us marks a token that was exchanged for a successor.
CREATE TABLE refresh_token (
    token_hash     TEXT   PRIMARY KEY,
    family_id      TEXT   NOT NULL REFERENCES refresh_family (family_id) ON DELETE CASCADE,
    issued_at_us   BIGINT NOT NULL,
    expires_at_us  BIGINT NOT NULL,
    rotated_at_us  BIGINT
);
CREATE INDEX refresh_token_family ON refresh_token (family_id);
CREATE INDEX refresh_token_expiry ON refresh_token (expires_at_us);

-- OAuth authorization requests in flight, consumed exactly once (DELETE … RETURNING).
CREATE TABLE oauth_state (
    state_hash     TEXT   PRIMARY KEY,
    provider       TEXT   NOT NULL,
    binding_hash   TEXT   NOT NULL,
    pkce_verifier  TEXT,
    expires_at_us  BIGINT NOT NULL
);
CREATE INDEX oauth_state_expiry ON oauth_state (expires_at_us);

-- Fixed-window attempt counters shared by every replica.
CREATE TABLE rate_limit (
    bucket          TEXT   NOT NULL,
    window_start_us BIGINT NOT NULL,
    hits            BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start_us)
);
CREATE INDEX rate_limit_window ON rate_limit (window_start_us);
