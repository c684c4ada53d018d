-- Members erased by account deletion (`member.deleted`, docs/integrations.md#leaving): only the id and when.
-- A request made with an access token that is still valid for a few minutes is told that the account was
-- deleted (401) rather than that it is not provisioned yet (503). Member ids are never reused, so this row stands
-- for nobody else.
CREATE TABLE erased_member (
    member_id    BIGINT PRIMARY KEY,
    erased_at_us BIGINT NOT NULL
);
