//! The query layer on both backends: migrations from empty, idempotence, ownership, error mapping.

use pinit_kernel::db::{Backend, DbError, MigrationSet};
use pinit_testkit::{TestDb, both_backends};
use sqlx::migrate::Migrator;

static PG: Migrator = sqlx::migrate!("tests/fixtures/migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("tests/fixtures/migrations/sqlite");
static NOTES: MigrationSet = MigrationSet {
    name: "notes",
    postgres: &PG,
    sqlite: &SQLITE,
};

async fn migrates_from_empty_and_is_idempotent(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let db = test_db.connect().await;
    assert_eq!(db.backend(), backend);

    let first = db.migrate("notes-owner", &[&NOTES]).await.unwrap();
    let versions: Vec<i64> = first.applied.iter().map(|(_, v, _)| *v).collect();
    assert_eq!(
        versions,
        vec![1, 2],
        "both migrations applied on the first run"
    );

    let second = db.migrate("notes-owner", &[&NOTES]).await.unwrap();
    assert!(
        second.applied.is_empty(),
        "second run applies nothing: {second:?}"
    );

    // The schema is usable through the one query layer, with `$n` placeholders on both engines.
    let mut tx = db.begin().await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO note (body, created_at_us, tag) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind("hello")
    .bind(1_700_000_000_000_000_i64)
    .bind("t")
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (body, tag): (String, String) = sqlx::query_as("SELECT body, tag FROM note WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!((body.as_str(), tag.as_str()), ("hello", "t"));
}

async fn duplicates_are_typed(backend: Backend) {
    let (_test_db, db) = TestDb::migrated(backend, "notes-owner", &[&NOTES]).await;
    let insert = |body: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query("INSERT INTO note (body, created_at_us) VALUES ($1, 0)")
                .bind(body)
                .execute(db.pool())
                .await
                .map_err(DbError::from)
        }
    };
    insert("same").await.unwrap();
    let err = insert("same").await.unwrap_err();
    assert!(
        err.is_duplicate(),
        "expected a duplicate error, got {err:?}"
    );
}

async fn a_database_belongs_to_one_context(backend: Backend) {
    let (_test_db, db) = TestDb::migrated(backend, "auth", &[]).await;
    let err = db.migrate("task", &[&NOTES]).await.unwrap_err();
    match &err {
        DbError::WrongDatabase {
            expected, found, ..
        } => {
            assert_eq!((expected.as_str(), found.as_str()), ("task", "auth"));
        }
        other => panic!("expected WrongDatabase, got {other:?}"),
    }
    assert!(err.to_string().contains("belongs to the `auth` context"));
    // Nothing of the refused context was created.
    let notes = sqlx::query("SELECT 1 FROM note")
        .fetch_optional(db.pool())
        .await;
    assert!(notes.is_err(), "the note table must not exist");
}

async fn concurrent_migrators_agree(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let a = test_db.connect().await;
    let b = test_db.connect().await;
    let sets = [&NOTES];
    let (ra, rb) = tokio::join!(a.migrate("notes", &sets), b.migrate("notes", &sets));
    let applied = ra.unwrap().applied.len() + rb.unwrap().applied.len();
    assert_eq!(
        applied, 2,
        "each migration applied exactly once across both migrators"
    );
}

/// SQLite has one writer: a pool's write transactions take turns in arrival order (not SQLite's busy handler,
/// whose growing sleeps let late-comers overtake), and each commits its own write.
#[tokio::test]
async fn sqlite_writers_take_turns_in_arrival_order() {
    let (_test_db, db) = TestDb::migrated(Backend::Sqlite, "notes-owner", &[&NOTES]).await;
    let first = db.begin().await.unwrap();
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for i in 0..6 {
        let (db, order) = (db.clone(), order.clone());
        writers.push(tokio::spawn(async move {
            let mut tx = db.begin().await.unwrap();
            order.lock().unwrap().push(i);
            sqlx::query("INSERT INTO note (body, created_at_us) VALUES ($1, 0)")
                .bind(format!("writer {i}"))
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }));
        // Arrive one after another, while the first transaction still holds the database.
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert!(
        order.lock().unwrap().is_empty(),
        "nobody writes during another write"
    );
    first.commit().await.unwrap();
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
    let notes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM note")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(notes, 6);
}

/// A pooled PostgreSQL connection the server dropped while it sat idle (a restart, a failover, an idle timeout)
/// is noticed when it is next drawn and replaced: the request that draws it succeeds. sqlx's own per-acquire
/// check is off (a round trip per request, `db::check_on_acquire`), so this fails without ours.
#[tokio::test]
async fn a_postgres_connection_dropped_while_idle_is_replaced_not_handed_out() {
    let (_test_db, db) = TestDb::migrated(Backend::Postgres, "notes-owner", &[&NOTES]).await;
    let (pid, database): (i32, String) =
        sqlx::query_as("SELECT pg_backend_pid(), current_database()::text")
            .fetch_one(&mut *db.conn().await.unwrap())
            .await
            .unwrap();
    let admin_url = pinit_testkit::postgres_admin_url();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    // Every connection of the pool: whichever idle one is drawn next is dead.
    // `OFFSET 0` keeps the subquery apart, so the termination is applied only to the rows it picked (never to
    // this admin connection).
    let killed: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM (SELECT pid FROM pg_stat_activity WHERE datname = $1 \
         AND pid <> pg_backend_pid() OFFSET 0) mine WHERE pg_terminate_backend(pid)",
    )
    .bind(&database)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        killed.contains(&pid),
        "the pooled connection's backend was terminated"
    );
    tokio::time::sleep(pinit_kernel::db::CHECK_IDLE_AFTER + std::time::Duration::from_millis(200))
        .await;
    let mut conn = db.conn().await.unwrap();
    let again: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .expect("the dropped connection was replaced before it was handed out");
    assert_ne!(again, pid, "a new connection");
}

/// A connection dropped while a request holds it (a restart between its statements) is a 503 to retry, not a 500.
#[tokio::test]
async fn a_postgres_connection_dropped_in_use_is_unavailable_not_an_internal_error() {
    let (_test_db, db) = TestDb::migrated(Backend::Postgres, "notes-owner", &[&NOTES]).await;
    let mut conn = db.conn().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&pinit_testkit::postgres_admin_url())
            .await
            .unwrap();
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(killed);
    let err = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&mut *conn)
        .await
        .expect_err("its backend is gone");
    let err = DbError::from(err);
    assert!(matches!(err, DbError::Unavailable(_)), "{err:?}");
}

/// A connection in use a moment ago is handed out without a round trip; one idle for a second is checked.
#[test]
fn only_connections_idle_for_a_while_are_checked() {
    use pinit_kernel::db::{CHECK_IDLE_AFTER, check_on_acquire};
    use std::time::Duration;
    assert!(!check_on_acquire(Duration::ZERO));
    assert!(!check_on_acquire(Duration::from_millis(20)));
    assert!(check_on_acquire(CHECK_IDLE_AFTER));
    assert!(check_on_acquire(Duration::from_secs(600)));
}

both_backends!(
    migrates_from_empty_and_is_idempotent,
    duplicates_are_typed,
    a_database_belongs_to_one_context,
    concurrent_migrators_agree,
);
