//! `member`: local accounts and accounts created by an OAuth login.

use jiff::Timestamp;
use pinit_kernel::db::{Backend, Conn, Tx};

use super::Result;
use super::instant;
use crate::domain::{Account, Credentials, Member, MemberId, Nickname, ZoneId};

/// A member to insert. `social_login` marks one created by an OAuth login.
#[derive(Debug)]
pub struct NewMember<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub nickname: Option<&'a Nickname>,
    pub zone: &'a ZoneId,
    pub social_login: bool,
    pub now: Timestamp,
}

#[derive(sqlx::FromRow)]
struct MemberIdRecord {
    member_id: i64,
}

#[derive(sqlx::FromRow)]
struct CredentialsRecord {
    member_id: i64,
    password_hash: String,
}

#[derive(sqlx::FromRow)]
struct MemberRecord {
    member_id: i64,
    username: String,
    nickname: Option<String>,
    zone_id: String,
    disabled_at_us: Option<i64>,
}

impl From<MemberRecord> for Member {
    fn from(r: MemberRecord) -> Self {
        Member {
            id: MemberId(r.member_id),
            username: r.username,
            nickname: r.nickname,
            zone_id: r.zone_id,
            disabled_at: r.disabled_at_us.map(instant),
        }
    }
}

#[derive(sqlx::FromRow)]
struct AccountRecord {
    member_id: i64,
    username: String,
    nickname: Option<String>,
    /// 0 or 1 (read as an integer: the Any driver decodes no SQLite boolean).
    social_login: i64,
    created_at_us: i64,
    disabled_at_us: Option<i64>,
}

impl From<AccountRecord> for Account {
    fn from(r: AccountRecord) -> Self {
        Account {
            id: MemberId(r.member_id),
            username: r.username,
            nickname: r.nickname,
            social_login: r.social_login != 0,
            created_at: instant(r.created_at_us),
            disabled_at: r.disabled_at_us.map(instant),
        }
    }
}

/// Inserts a member; returns its id. A taken username is `DbError::Duplicate`.
pub async fn insert(tx: &mut Tx, member: &NewMember<'_>) -> Result<MemberId> {
    let record = sqlx::query_as::<_, MemberIdRecord>(
        "INSERT INTO member (username, password_hash, nickname, zone_id, social_login, created_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING member_id",
    )
    .bind(member.username)
    .bind(member.password_hash)
    .bind(member.nickname.map(Nickname::as_str))
    .bind(member.zone.as_str())
    .bind(member.social_login)
    .bind(member.now.as_microsecond())
    .fetch_one(&mut **tx)
    .await?;
    Ok(MemberId(record.member_id))
}

/// The member and password hash of a username.
pub async fn credentials(conn: &mut Conn, username: &str) -> Result<Option<Credentials>> {
    let record = sqlx::query_as::<_, CredentialsRecord>(
        "SELECT member_id, password_hash FROM member WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(|r| Credentials {
        member: MemberId(r.member_id),
        password_hash: r.password_hash,
    }))
}

pub async fn set_password_hash(conn: &mut Conn, id: MemberId, hash: &str) -> Result<()> {
    sqlx::query("UPDATE member SET password_hash = $1 WHERE member_id = $2")
        .bind(hash)
        .bind(id.get())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: MemberId) -> Result<Option<Member>> {
    let record = sqlx::query_as::<_, MemberRecord>(
        "SELECT member_id, username, nickname, zone_id, disabled_at_us FROM member WHERE member_id = $1",
    )
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(Member::from))
}

/// An operator's view of members: `SELECT … FROM member` and `rest` (a constant).
fn accounts_sql(rest: &'static str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "SELECT member_id, username, nickname, CAST(social_login AS INTEGER) AS social_login, \
         created_at_us, disabled_at_us FROM member {rest}"
    ))
}

/// Every member, by id (an operator's list).
pub async fn accounts(conn: &mut Conn) -> Result<Vec<Account>> {
    let records = sqlx::query_as::<_, AccountRecord>(accounts_sql("ORDER BY member_id"))
        .fetch_all(&mut *conn)
        .await?;
    Ok(records.into_iter().map(Account::from).collect())
}

/// The member of a username, as an operator sees it.
pub async fn account(conn: &mut Conn, username: &str) -> Result<Option<Account>> {
    let record = sqlx::query_as::<_, AccountRecord>(accounts_sql("WHERE username = $1"))
        .bind(username)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(record.map(Account::from))
}

/// Disables a member from `at`, or (`None`) enables it again.
pub async fn set_disabled(conn: &mut Conn, id: MemberId, at: Option<Timestamp>) -> Result<()> {
    sqlx::query("UPDATE member SET disabled_at_us = $1 WHERE member_id = $2")
        .bind(at.map(Timestamp::as_microsecond))
        .bind(id.get())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The password hash of a member.
pub async fn password_hash(conn: &mut Conn, id: MemberId) -> Result<Option<String>> {
    let record = sqlx::query_as::<_, CredentialsRecord>(
        "SELECT member_id, password_hash FROM member WHERE member_id = $1",
    )
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(|r| r.password_hash))
}

/// Locks a member's row for the rest of the transaction (PostgreSQL; SQLite transactions are already exclusive),
/// so that rules counting its rows (at most 20 app passwords) hold under concurrent requests. `false` when the
/// member does not exist.
pub async fn lock(tx: &mut Tx, backend: Backend, id: MemberId) -> Result<bool> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let sql = format!("SELECT member_id FROM member WHERE member_id = $1{lock}");
    let record = sqlx::query_as::<_, MemberIdRecord>(sqlx::AssertSqlSafe(sql))
        .bind(id.get())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(record.is_some())
}

/// A member's account as an operator sees it, by id.
pub async fn account_of(conn: &mut Conn, id: MemberId) -> Result<Option<Account>> {
    let record = sqlx::query_as::<_, AccountRecord>(accounts_sql("WHERE member_id = $1"))
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(record.map(Account::from))
}

/// Deletes the member's row (account deletion; the rows that refer to it go first). `false` if it was gone.
/// Its id is never given out again: `AUTOINCREMENT` on SQLite, an identity column on PostgreSQL.
pub async fn delete(tx: &mut Tx, id: MemberId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM member WHERE member_id = $1")
        .bind(id.get())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}
