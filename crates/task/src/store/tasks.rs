//! `task` and `dependency`.

use jiff::Timestamp;
use jiff::civil::Date;
use pinit_kernel::db::Conn;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Sql, get_instant, next_version};
use crate::domain::time::parse_stored_date;
use crate::domain::{
    ArchiveCursor, CorruptRecord, Deadline, Description, Difficulty, Edge, Importance, MemberId,
    Task, TaskCursor, TaskFields, TaskId, Title, ValidationError, Zone,
};

/// A task as stored, with what the responses show besides the aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTask {
    pub task: Task,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "t.task_id, t.owner_id, t.title, t.description, t.deadline_date, \
    t.deadline_zone_id, t.importance, t.difficulty, t.completed, t.version, t.created_at_us, \
    t.updated_at_us";

fn invalid(e: impl Into<ValidationError>) -> CorruptRecord {
    CorruptRecord::InvalidValue(e.into())
}

fn from_row(row: &AnyRow) -> Result<StoredTask> {
    let date: String = row.try_get("deadline_date")?;
    let zone: String = row.try_get("deadline_zone_id")?;
    let deadline = Deadline::new(
        parse_stored_date(&date).map_err(invalid)?,
        Zone::parse(&zone).map_err(invalid)?,
    )
    .map_err(invalid)?;
    let fields = TaskFields {
        title: Title::parse(row.try_get::<String, _>("title")?).map_err(invalid)?,
        description: Description::parse(row.try_get::<String, _>("description")?)
            .map_err(invalid)?,
        deadline,
        importance: Importance::new(row.try_get("importance")?).map_err(invalid)?,
        difficulty: Difficulty::new(row.try_get("difficulty")?).map_err(invalid)?,
    };
    let task = Task::restore(
        TaskId(row.try_get("task_id")?),
        MemberId(row.try_get("owner_id")?),
        fields,
        row.try_get::<i64, _>("completed")? != 0,
    );
    Ok(StoredTask {
        task,
        version: row.try_get("version")?,
        created_at: get_instant(row, "created_at_us")?,
        updated_at: get_instant(row, "updated_at_us")?,
    })
}

fn from_rows(rows: &[AnyRow]) -> Result<Vec<StoredTask>> {
    rows.iter().map(from_row).collect()
}

/// Inserts a new, incomplete task (version 1).
pub async fn insert(
    conn: &mut Conn,
    owner: MemberId,
    fields: &TaskFields,
    now: Timestamp,
) -> Result<StoredTask> {
    let row = sqlx::query(
        "INSERT INTO task (owner_id, title, description, deadline_date, deadline_zone_id, \
         importance, difficulty, completed, version, created_at_us, updated_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 1, $8, $8) RETURNING task_id",
    )
    .bind(owner.get())
    .bind(fields.title.as_str())
    .bind(fields.description.as_str())
    .bind(fields.deadline.date().to_string())
    .bind(fields.deadline.zone().id())
    .bind(i64::from(fields.importance.get()))
    .bind(i64::from(fields.difficulty.get()))
    .bind(now.as_microsecond())
    .fetch_one(&mut *conn)
    .await?;
    let id = TaskId(row.try_get("task_id")?);
    Ok(StoredTask {
        task: Task::new(id, owner, fields.clone()),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// The member's task `id` (`None` when it does not exist or is another member's).
pub async fn get(conn: &mut Conn, owner: MemberId, id: TaskId) -> Result<Option<StoredTask>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM task t WHERE t.task_id = $1 AND t.owner_id = $2"
    )))
    .bind(id.get())
    .bind(owner.get())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Saves a changed task; returns its new version.
pub async fn update(
    conn: &mut Conn,
    stored: &StoredTask,
    task: &Task,
    now: Timestamp,
) -> Result<i64> {
    let f = task.fields();
    let done = sqlx::query(
        "UPDATE task SET title = $1, description = $2, deadline_date = $3, deadline_zone_id = $4, \
         importance = $5, difficulty = $6, completed = $7, version = version + 1, updated_at_us = $8 \
         WHERE task_id = $9 AND version = $10",
    )
    .bind(f.title.as_str())
    .bind(f.description.as_str())
    .bind(f.deadline.date().to_string())
    .bind(f.deadline.zone().id())
    .bind(i64::from(f.importance.get()))
    .bind(i64::from(f.difficulty.get()))
    .bind(i64::from(task.is_completed()))
    .bind(now.as_microsecond())
    .bind(task.id().get())
    .bind(stored.version)
    .execute(&mut *conn)
    .await?;
    next_version(
        done.rows_affected(),
        stored.version,
        "task",
        task.id().get(),
    )
}

/// Deletes a task (its dependency edges go with it).
pub async fn delete(conn: &mut Conn, id: TaskId) -> Result<()> {
    sqlx::query("DELETE FROM task WHERE task_id = $1")
        .bind(id.get())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `(id, completed)` of those of `ids` that exist and are the member's.
pub async fn completion(
    conn: &mut Conn,
    owner: MemberId,
    ids: &[TaskId],
) -> Result<Vec<(TaskId, bool)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT task_id, completed FROM task WHERE owner_id = ");
    sql.int(owner.get()).push(" AND task_id IN ");
    sql.int_list(ids.iter().map(|t| t.get()));
    completions(&sql.query().fetch_all(&mut *conn).await?)
}

/// `(task_id, completed)` rows.
fn completions(rows: &[AnyRow]) -> Result<Vec<(TaskId, bool)>> {
    rows.iter()
        .map(|r| {
            Ok((
                TaskId(r.try_get("task_id")?),
                r.try_get::<i64, _>("completed")? != 0,
            ))
        })
        .collect()
}

/// Which tasks a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    /// The default task tab: incomplete tasks, and completed ones due `today` or later.
    Current { today: Date },
    /// `readyOnly=true`: incomplete tasks whose prerequisites are all completed.
    Ready,
    /// Every task of the member (an export).
    All,
}

fn push_filter(sql: &mut Sql, owner: MemberId, filter: ListFilter) {
    sql.push(" WHERE t.owner_id = ").int(owner.get());
    match filter {
        ListFilter::Current { today } => {
            sql.push(" AND (t.completed = 0 OR t.deadline_date >= ")
                .text(today.to_string())
                .push(")");
        }
        ListFilter::Ready => {
            sql.push(
                " AND t.completed = 0 AND NOT EXISTS (SELECT 1 FROM dependency d \
                 JOIN task p ON p.task_id = d.from_id WHERE d.to_id = t.task_id AND p.completed = 0)",
            );
        }
        ListFilter::All => {}
    }
}

/// One offset page, by deadline date then id.
pub async fn page(
    conn: &mut Conn,
    owner: MemberId,
    filter: ListFilter,
    offset: i64,
    limit: i64,
) -> Result<Vec<StoredTask>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM task t"));
    push_filter(&mut sql, owner, filter);
    sql.push(" ORDER BY t.deadline_date, t.task_id LIMIT ")
        .int(limit)
        .push(" OFFSET ")
        .int(offset);
    from_rows(&sql.query().fetch_all(&mut *conn).await?)
}

pub async fn count(conn: &mut Conn, owner: MemberId, filter: ListFilter) -> Result<i64> {
    let mut sql = Sql::new("SELECT COUNT(*) AS n FROM task t");
    push_filter(&mut sql, owner, filter);
    let row = sql.query().fetch_one(&mut *conn).await?;
    Ok(row.try_get("n")?)
}

/// Up to `limit` tasks strictly after `cursor`, by deadline date then id.
pub async fn after(
    conn: &mut Conn,
    owner: MemberId,
    filter: ListFilter,
    cursor: Option<TaskCursor>,
    limit: i64,
) -> Result<Vec<StoredTask>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM task t"));
    push_filter(&mut sql, owner, filter);
    if let Some(c) = cursor {
        sql.push(" AND (t.deadline_date > ")
            .text(c.date.to_string())
            .push(" OR (t.deadline_date = ")
            .text(c.date.to_string())
            .push(" AND t.task_id > ")
            .int(c.id.get())
            .push("))");
    }
    sql.push(" ORDER BY t.deadline_date, t.task_id LIMIT ")
        .int(limit);
    from_rows(&sql.query().fetch_all(&mut *conn).await?)
}

/// Up to `limit` completed tasks due on or before `cutoff`, strictly before `cursor`, by deadline
/// date then id, descending.
pub async fn archive(
    conn: &mut Conn,
    owner: MemberId,
    cutoff: Date,
    cursor: ArchiveCursor,
    limit: i64,
) -> Result<Vec<StoredTask>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM task t WHERE t.owner_id = "));
    sql.int(owner.get())
        .push(" AND t.completed = 1 AND t.deadline_date <= ")
        .text(cutoff.to_string())
        .push(" AND (t.deadline_date < ")
        .text(cursor.date.to_string())
        .push(" OR (t.deadline_date = ")
        .text(cursor.date.to_string())
        .push(" AND t.task_id < ")
        .int(cursor.id.get())
        .push(")) ORDER BY t.deadline_date DESC, t.task_id DESC LIMIT ")
        .int(limit);
    from_rows(&sql.query().fetch_all(&mut *conn).await?)
}

/// The member's tasks whose deadline date is within `[from, to]`, by date then id.
pub async fn due_between(
    conn: &mut Conn,
    owner: MemberId,
    from: Date,
    to: Date,
) -> Result<Vec<StoredTask>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM task t WHERE t.owner_id = $1 AND t.deadline_date >= $2 \
         AND t.deadline_date <= $3 ORDER BY t.deadline_date, t.task_id"
    )))
    .bind(owner.get())
    .bind(from.to_string())
    .bind(to.to_string())
    .fetch_all(&mut *conn)
    .await?;
    from_rows(&rows)
}

// ---------------------------------------------------------------------------------------------
// Dependencies
// ---------------------------------------------------------------------------------------------

fn edges(rows: &[AnyRow]) -> Result<Vec<Edge>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        // The table refuses self-edges (CHECK), so `Edge::new` cannot fail on stored rows.
        if let Ok(e) = Edge::new(TaskId(r.try_get("from_id")?), TaskId(r.try_get("to_id")?)) {
            out.push(e);
        }
    }
    Ok(out)
}

/// Every edge of the member's graph.
pub async fn member_edges(conn: &mut Conn, owner: MemberId) -> Result<Vec<Edge>> {
    let rows = sqlx::query("SELECT from_id, to_id FROM dependency WHERE owner_id = $1")
        .bind(owner.get())
        .fetch_all(&mut *conn)
        .await?;
    edges(&rows)
}

/// The edges that touch any of `ids`.
pub async fn edges_touching(conn: &mut Conn, owner: MemberId, ids: &[TaskId]) -> Result<Vec<Edge>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT from_id, to_id FROM dependency WHERE owner_id = ");
    sql.int(owner.get()).push(" AND (from_id IN ");
    sql.int_list(ids.iter().map(|t| t.get()));
    sql.push(" OR to_id IN ");
    sql.int_list(ids.iter().map(|t| t.get()));
    sql.push(")");
    edges(&sql.query().fetch_all(&mut *conn).await?)
}

/// The edges into any of `ids` (their prerequisites), by task then prerequisite.
pub async fn edges_into(conn: &mut Conn, ids: &[TaskId]) -> Result<Vec<Edge>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT from_id, to_id FROM dependency WHERE to_id IN ");
    sql.int_list(ids.iter().map(|t| t.get()))
        .push(" ORDER BY to_id, from_id");
    edges(&sql.query().fetch_all(&mut *conn).await?)
}

/// The prerequisites of `task` with their completion flags.
pub async fn prerequisites(conn: &mut Conn, task: TaskId) -> Result<Vec<(TaskId, bool)>> {
    let rows = sqlx::query(
        "SELECT d.from_id AS task_id, p.completed FROM dependency d JOIN task p ON p.task_id = d.from_id \
         WHERE d.to_id = $1 ORDER BY d.from_id",
    )
    .bind(task.get())
    .fetch_all(&mut *conn)
    .await?;
    completions(&rows)
}

pub async fn insert_edges(conn: &mut Conn, owner: MemberId, added: &[Edge]) -> Result<()> {
    for e in added {
        sqlx::query("INSERT INTO dependency (from_id, to_id, owner_id) VALUES ($1, $2, $3)")
            .bind(e.from().get())
            .bind(e.to().get())
            .bind(owner.get())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn delete_edges(conn: &mut Conn, removed: &[Edge]) -> Result<()> {
    for e in removed {
        sqlx::query("DELETE FROM dependency WHERE from_id = $1 AND to_id = $2")
            .bind(e.from().get())
            .bind(e.to().get())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Every task of the member, by deadline date then id (a calendar app's Tasks calendar).
pub async fn all_of(conn: &mut Conn, owner: MemberId) -> Result<Vec<StoredTask>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM task t WHERE t.owner_id = $1 ORDER BY t.deadline_date, t.task_id"
    )))
    .bind(owner.get())
    .fetch_all(&mut *conn)
    .await?;
    from_rows(&rows)
}

/// The member's tasks changed after `since_us`, oldest change first (a calendar app's incremental sync).
pub async fn changed_since(
    conn: &mut Conn,
    owner: MemberId,
    since_us: i64,
) -> Result<Vec<StoredTask>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM task t WHERE t.owner_id = $1 AND t.updated_at_us > $2 \
         ORDER BY t.updated_at_us, t.task_id"
    )))
    .bind(owner.get())
    .bind(since_us)
    .fetch_all(&mut *conn)
    .await?;
    from_rows(&rows)
}

/// The newest `updated_at_us` among the member's tasks.
pub async fn last_change(conn: &mut Conn, owner: MemberId) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT MAX(updated_at_us) FROM task WHERE owner_id = $1")
            .bind(owner.get())
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Deletes every task of `member` and the edges between them (account deletion, after its schedules); how many
/// tasks.
pub async fn erase_member(conn: &mut Conn, member: MemberId) -> Result<u64> {
    super::erase_rows(conn, "dependency", "owner_id", member).await?;
    super::erase_rows(conn, "task", "owner_id", member).await
}
