//! The export of a member's data (GDPR art. 20, `GET /v2/export`): what the task context holds of the member,
//! read page by page from one snapshot of the database, so that the export is consistent and its memory does
//! not grow with the member's data.
//!
//! The snapshot is one read-only transaction: `REPEATABLE READ READ ONLY` on PostgreSQL, a deferred `BEGIN` on
//! SQLite (WAL: its snapshot is taken at the first read, and it takes no write lock — writers go on). Each
//! section is read in pages of [`PAGE`] rows along an index (keyset pagination: a page starts strictly after the
//! last row of the one before), never all at once.

use jiff::Timestamp;
use pinit_kernel::db::DbError;
use sqlx::Any;

use super::{Result, TaskApp};
use crate::domain::export::Section;
use crate::domain::{MemberId, TaskCursor, TaskId, WeekKey, WeeklyTotals};
use crate::store::members::Member;
use crate::store::schedules::StoredSchedule;
use crate::store::series::StoredSeries;
use crate::store::tasks::{ListFilter, StoredTask};
use crate::store::{self};

/// Rows per page.
pub const PAGE: usize = 500;

/// A task with its prerequisites (the tasks to complete before it), by id.
#[derive(Debug, Clone)]
pub struct ExportedTask {
    pub stored: StoredTask,
    pub previous: Vec<TaskId>,
}

/// A repeating schedule, with when it was deleted (the occurrences started or completed before stay).
#[derive(Debug, Clone)]
pub struct ExportedSeries {
    pub stored: StoredSeries,
    pub deleted_at: Option<Timestamp>,
}

/// One row of a section.
#[derive(Debug, Clone)]
pub enum ExportRow {
    Task(ExportedTask),
    Series(ExportedSeries),
    Schedule(StoredSchedule),
    Week(WeekKey, WeeklyTotals),
}

/// A read-only snapshot of one member's data, read section by section with [`Export::page`]. Dropping it
/// ends the transaction.
pub struct Export {
    tx: sqlx::Transaction<'static, Any>,
    member: Member,
    at: Timestamp,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export")
            .field("member", &self.member.id)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl TaskApp {
    /// `GET /v2/export`: opens the snapshot of `member`'s data (503 before the member is provisioned).
    pub async fn export(&self, member: MemberId) -> Result<Export> {
        let begin = match self.db().backend() {
            pinit_kernel::Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            pinit_kernel::Backend::Sqlite => "BEGIN",
        };
        let mut tx = self
            .db()
            .pool()
            .begin_with(begin)
            .await
            .map_err(DbError::from)?;
        let member = match store::members::get(&mut tx, member).await? {
            Some(found) => found,
            None => return Err(super::missing(&mut tx, member).await),
        };
        Ok(Export {
            tx,
            member,
            at: self.now(),
        })
    }
}

impl Export {
    /// What the task context knows of the member.
    pub fn member(&self) -> &Member {
        &self.member
    }

    /// When the export was taken (the server's clock).
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// Up to [`PAGE`] rows of `section` after `after` (the last row of the page before; `None`: from the start).
    /// [`Section::Member`] has no pages (see [`Export::member`]): empty.
    pub async fn page(
        &mut self,
        section: Section,
        after: Option<&ExportRow>,
    ) -> Result<Vec<ExportRow>> {
        let owner = self.member.id;
        let conn = &mut *self.tx;
        let limit = PAGE as i64;
        Ok(match section {
            Section::Member => Vec::new(),
            Section::Tasks => {
                let cursor = match after {
                    Some(ExportRow::Task(t)) => Some(TaskCursor {
                        date: t.stored.task.deadline().date(),
                        id: t.stored.task.id(),
                    }),
                    _ => None,
                };
                let tasks =
                    store::tasks::after(conn, owner, ListFilter::All, cursor, limit).await?;
                let ids: Vec<TaskId> = tasks.iter().map(|t| t.task.id()).collect();
                let edges = store::tasks::edges_into(conn, &ids).await?;
                tasks
                    .into_iter()
                    .map(|stored| {
                        let id = stored.task.id();
                        let previous = edges
                            .iter()
                            .filter(|e| e.to() == id)
                            .map(|e| e.from())
                            .collect();
                        ExportRow::Task(ExportedTask { stored, previous })
                    })
                    .collect()
            }
            Section::Series => {
                let cursor = match after {
                    Some(ExportRow::Series(s)) => Some(s.stored.series.id),
                    _ => None,
                };
                store::series::page_after(conn, owner, cursor, limit)
                    .await?
                    .into_iter()
                    .map(|(stored, deleted_at)| {
                        ExportRow::Series(ExportedSeries { stored, deleted_at })
                    })
                    .collect()
            }
            Section::Schedules => {
                let cursor = match after {
                    Some(ExportRow::Schedule(s)) => {
                        Some((s.schedule.designated_start(), s.schedule.id()))
                    }
                    _ => None,
                };
                store::schedules::page_after(conn, owner, cursor, limit)
                    .await?
                    .into_iter()
                    .map(ExportRow::Schedule)
                    .collect()
            }
            Section::WeeklyStatistics => {
                let cursor = match after {
                    Some(ExportRow::Week(week, _)) => Some(week),
                    _ => None,
                };
                store::statistics::page_after(conn, owner, cursor, limit)
                    .await?
                    .into_iter()
                    .map(|(week, totals)| ExportRow::Week(week, totals))
                    .collect()
            }
        })
    }

    /// Ends the snapshot (it changed nothing).
    pub async fn finish(self) -> Result<()> {
        self.tx.rollback().await.map_err(DbError::from)?;
        Ok(())
    }
}
