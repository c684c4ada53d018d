//! The notification context's SQL, written once for SQLite and PostgreSQL (docs/adr/0002), one module per
//! table, each returning domain types. Instants are microseconds since the Unix epoch; flags are 0/1 integers;
//! statuses, outcomes and kinds are their text labels. Rows are read by column name into `FromRow` records,
//! then converted; a row the domain cannot take back is [`DbError::Corrupt`].
//!
//! * [`subscriptions`] — `push_subscription`: devices and where they receive pushes.
//! * [`upcoming`] — `upcoming_notification`: each schedule's pending notifications (one per reminder slot),
//!   claimed by dispatchers.
//! * [`watermarks`] — `schedule_watermark`: the newest event applied per schedule, and its reminders.
//! * [`quiet_hours`] — `quiet_hours`: each member's quiet hours.
//! * [`deliveries`] — `push_delivery`: one row per (notification, device).
//! * [`outcomes`] — `notification_outcome`: how each notification ended.
//! * [`webhooks`] — `webhook_endpoint` and `webhook_delivery`: members' webhook endpoints and their deliveries.

pub mod deliveries;
pub mod erased;
pub mod outcomes;
pub mod quiet_hours;
pub mod subscriptions;
pub mod upcoming;
pub mod watermarks;
pub mod webhooks;

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use jiff::Timestamp;
use pinit_kernel::db::{Conn, DbError};

pub(crate) type Result<T> = std::result::Result<T, DbError>;

/// Ids per `IN (…)` list.
pub(crate) const CHUNK: usize = 500;

/// Parameters per multi-row statement. SQLite's parser resolves `$N` placeholders with a linear search, so
/// preparing a statement is quadratic in them (the statement is cached afterwards, so a bound keeps the first
/// preparation short); on PostgreSQL a few more statements per batch cost next to nothing.
pub(crate) const MAX_PARAMS: usize = 2_000;

/// `$from, …`: `count` numbered placeholders.
pub(crate) fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($from, …), (…)`: `rows` tuples of `columns` numbered placeholders.
pub(crate) fn value_rows(from: usize, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(from + r * columns, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The last item of each key, in first-seen key order: one multi-row upsert may not touch a row twice
/// (PostgreSQL refuses it).
pub(crate) fn last_per_key<'a, T, K: std::hash::Hash + Eq>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    let mut at: HashMap<K, usize> = HashMap::with_capacity(items.len());
    let mut out: Vec<&'a T> = Vec::with_capacity(items.len());
    for item in items {
        match at.entry(key(item)) {
            Entry::Occupied(e) => out[*e.get()] = item,
            Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(item);
            }
        }
    }
    out
}

/// A stored instant.
pub(crate) fn instant(what: &'static str, us: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(us).map_err(|e| DbError::Corrupt {
        what,
        detail: format!("instant {us} µs: {e}"),
    })
}

/// A stored optional instant.
pub(crate) fn optional_instant(what: &'static str, us: Option<i64>) -> Result<Option<Timestamp>> {
    us.map(|us| instant(what, us)).transpose()
}

/// A stored label that does not name a known value.
pub(crate) fn unknown(what: &'static str, label: &str) -> DbError {
    DbError::Corrupt {
        what,
        detail: format!("unknown value `{label}`"),
    }
}

/// Deletes every row of `member` from `table`, whose member column is `column` (account deletion: each table's
/// module says which; both are constants, never input); how many.
pub(crate) async fn erase_rows(
    conn: &mut Conn,
    table: &'static str,
    column: &'static str,
    member: crate::domain::MemberId,
) -> Result<u64> {
    pinit_kernel::db::delete_by(conn, table, column, member.get()).await
}

/// Deletes delivery and outcome records, and watermarks of schedules without a pending notification, older
/// than `before`.
pub async fn prune_records(conn: &mut Conn, before: Timestamp) -> Result<u64> {
    Ok(deliveries::prune(conn, before).await?
        + outcomes::prune(conn, before).await?
        + watermarks::prune(conn, before).await?
        + webhooks::prune(conn, before).await?)
}
