//! What a database still holds of a member, found from its catalog (`sqlite_master`, `information_schema`) so a
//! table added later is covered without naming it: every column whose name ends in `member_id`, `owner_id` or
//! `user_id` is a member column. Account deletion tests assert that none of them holds the deleted member.
//!
//! One kind of table is left out, by name: the record that a member was erased ([`ERASURE_RECORDS`]), which keeps
//! the id (and when) on purpose so that nothing of the member is stored again. [`erasure_record`] shows what such a
//! row holds, so a test can check it is only that.

/// Tables that keep an erased member's id by design (the id and the time, nothing else).
pub const ERASURE_RECORDS: &[&str] = &["erased_member"];

use pinit_kernel::{Backend, Db};
use sqlx::Row;

/// Whether a column holds a member id, by its name.
pub fn is_member_column(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["member_id", "owner_id", "user_id"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// Every `(table, column)` of the database's own tables whose column is a member column, sorted.
pub async fn member_columns(db: &Db) -> Vec<(String, String)> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS table_name, CAST(column_name AS TEXT) AS column_name \
             FROM information_schema.columns WHERE table_schema = current_schema()"
        }
    };
    let rows = sqlx::query(sql)
        .fetch_all(db.pool())
        .await
        .expect("the catalog's columns");
    let mut columns: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("table_name"),
                r.get::<String, _>("column_name"),
            )
        })
        .filter(|(table, column)| {
            is_member_column(column) && !ERASURE_RECORDS.contains(&table.as_str())
        })
        .collect();
    columns.sort();
    columns
}

/// `table.column: n` for every member column holding `member` (empty: nothing of the member is left).
pub async fn member_rows(db: &Db, member: i64) -> Vec<String> {
    let mut found = Vec::new();
    for (table, column) in member_columns(db).await {
        // Names from the catalog, quoted; the member id is bound.
        let sql = format!("SELECT COUNT(*) AS n FROM \"{table}\" WHERE \"{column}\" = $1");
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(member)
            .fetch_one(db.pool())
            .await
            .unwrap_or_else(|e| panic!("count {table}.{column}: {e}"))
            .get("n");
        if n > 0 {
            found.push(format!("{table}.{column}: {n}"));
        }
    }
    found
}

/// The columns of the erasure record of `member` (`table: column, …`), in each [`ERASURE_RECORDS`] table the
/// database has; empty when there is none.
pub async fn erasure_record(db: &Db, member: i64) -> Vec<String> {
    let mut found = Vec::new();
    for table in ERASURE_RECORDS {
        let sql = format!("SELECT * FROM \"{table}\" WHERE member_id = $1");
        let Ok(rows) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(member)
            .fetch_all(db.pool())
            .await
        else {
            continue; // this database has no such table
        };
        for row in rows {
            let columns: Vec<&str> = row.columns().iter().map(sqlx::Column::name).collect();
            found.push(format!("{table}: {}", columns.join(", ")));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::is_member_column;

    #[test]
    fn member_columns_by_name() {
        for yes in [
            "member_id",
            "owner_id",
            "user_id",
            "target_member_id",
            "OWNER_ID",
        ] {
            assert!(is_member_column(yes), "{yes}");
        }
        for no in ["lease_owner", "members", "id", "member", "schedule_id"] {
            assert!(!is_member_column(no), "{no}");
        }
    }
}
