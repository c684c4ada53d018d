//! The task context's SQL, written once for SQLite and PostgreSQL (docs/adr/0002). Instants are BIGINT
//! microseconds, dates `TEXT` `YYYY-MM-DD` next to their zone id.
//!
//! Functions take a connection (`&mut *tx` inside a use case's transaction, a pooled connection for
//! reads) and return domain values; a stored row the domain refuses is a [`StoreError::Corrupt`] (500).
//! Every update of a versioned row checks the version it read (`WHERE version = $n`); under the member
//! lock that always holds, so a mismatch means a concurrent writer slipped past it and is answered 409.

pub mod busy_calendars;
pub mod calendar_objects;
pub mod erased;
pub mod feeds;
pub mod members;
pub mod schedules;
pub mod series;
pub mod statistics;
pub mod tasks;
pub mod tombstones;

/// The two kinds of calendar item (CalDAV's two collections): what their tables are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Schedule,
    Task,
}

impl Kind {
    /// The id column of the kind's item tables.
    fn id_column(self) -> &'static str {
        match self {
            Kind::Schedule => "schedule_id",
            Kind::Task => "task_id",
        }
    }
}

use jiff::Timestamp;
use pinit_kernel::db::DbError;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Row};

use crate::domain::{CorruptRecord, PlannedDuration, Reminders};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Corrupt(#[from] CorruptRecord),
    /// An optimistic version check failed (a concurrent writer won): 409.
    #[error("{what} {id} was changed concurrently")]
    VersionConflict { what: &'static str, id: i64 },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Db(e.into())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Deletes every row of `member` from `table`, whose member column is `column` (account deletion: each table's
/// module says which; both are constants, never input); how many.
pub(crate) async fn erase_rows(
    conn: &mut pinit_kernel::db::Conn,
    table: &'static str,
    column: &'static str,
    member: crate::domain::MemberId,
) -> Result<u64> {
    Ok(pinit_kernel::db::delete_by(conn, table, column, member.get()).await?)
}

/// The version after an update guarded by `version = {read}`: exactly one row changed, else a concurrent
/// writer got there first (a [`StoreError::VersionConflict`] about `what` `id`).
pub(crate) fn next_version(rows: u64, read: i64, what: &'static str, id: i64) -> Result<i64> {
    if rows == 1 {
        Ok(read + 1)
    } else {
        Err(StoreError::VersionConflict { what, id })
    }
}

/// A bound value of a dynamically built statement.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
}

/// A statement built from pieces, numbering its `$n` placeholders as values are bound.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub(crate) fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }

    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        self.bind(Arg::Int(v))
    }

    pub(crate) fn text(&mut self, v: impl Into<String>) -> &mut Self {
        self.bind(Arg::Text(v.into()))
    }

    /// `(…, …)` of integer placeholders (callers make sure `values` is not empty).
    pub(crate) fn int_list(&mut self, values: impl IntoIterator<Item = i64>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.int(v);
        }
        self.push(")")
    }

    pub(crate) fn query(&self) -> sqlx::query::Query<'_, Any, AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.text.clone()));
        for arg in &self.args {
            q = match arg {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_str()),
            };
        }
        q
    }
}

pub(crate) fn instant(us: i64) -> std::result::Result<Timestamp, CorruptRecord> {
    Timestamp::from_microsecond(us)
        .map_err(|_| CorruptRecord::InconsistentRun("instant out of range"))
}

pub(crate) fn get_instant(row: &AnyRow, column: &str) -> Result<Timestamp> {
    Ok(instant(row.try_get::<i64, _>(column)?)?)
}

/// A nullable `reminders` column (docs: migrations/*/0003_reminders.sql): `None` when NULL.
/// A planned length stored as whole minutes (`NULL`: not set).
pub(crate) fn get_planned(row: &AnyRow, column: &str) -> Result<Option<PlannedDuration>> {
    row.try_get::<Option<i64>, _>(column)?
        .map(|minutes| {
            PlannedDuration::from_minutes(minutes)
                .ok_or(CorruptRecord::InconsistentRun("a planned length out of range").into())
        })
        .transpose()
}

pub(crate) fn get_reminders(row: &AnyRow, column: &str) -> Result<Option<Reminders>> {
    row.try_get::<Option<String>, _>(column)?
        .map(|text| Reminders::from_stored(&text).map_err(CorruptRecord::from))
        .transpose()
        .map_err(StoreError::from)
}
