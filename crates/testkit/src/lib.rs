//! The test harness: every test that needs a database or a running router sets it up in one line.
//!
//! * [`TestDb::new`] — a fresh, empty SQLite file or PostgreSQL database, dropped when the test ends.
//! * [`both_backends!`] — writes a test once and runs it on SQLite and on PostgreSQL.
//! * [`TestServer::spawn`] — serves a router on a random loopback port, with a ready HTTP client.
//! * [`broker::PrivateBroker`] — a RabbitMQ node of the test's own, to stop and start again.
//! * [`tls`] — a throw-away CA and TLS-terminating proxies in front of PostgreSQL and RabbitMQ.
//! * [`member_rows`] — what a database still holds of a member, by its catalog's member columns.
//! * [`webhooks`] — a recording webhook receiver, and the Standard Webhooks oracle that verifies what it got.
//!
//! PostgreSQL is reached at `PINIT_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! RabbitMQ at `PINIT_TEST_AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/%2f`).

use std::net::SocketAddr;
use std::time::Duration;

pub mod broker;
pub mod member_rows;
pub mod python;
pub mod tls;
pub mod webhooks;

use pinit_kernel::Db;
use pinit_kernel::config::{ConnectionUrl, DatabasePoolConfig};
use sqlx::{Connection, Executor};
use tokio_util::sync::CancellationToken;

/// Admin URL of the PostgreSQL server used by tests.
pub fn postgres_admin_url() -> String {
    std::env::var("PINIT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// URL of the RabbitMQ broker used by tests.
pub fn amqp_url() -> String {
    std::env::var("PINIT_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_string())
}

/// Runs a test written as `async fn name(backend: Backend)` once per backend:
/// `both_backends!(name);` creates `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await
            }
        }
    )+};
}

pub use pinit_kernel::Backend;

enum Storage {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { name: String },
}

/// A fresh empty database for one test. Dropping it removes the file or drops the database.
pub struct TestDb {
    pub backend: Backend,
    pub url: ConnectionUrl,
    storage: Storage,
}

impl TestDb {
    /// Creates an empty database (no migrations applied).
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("pinit-test-")
                    .tempdir()
                    .expect("create a temporary directory");
                let url = Db::sqlite_url(&dir.path().join("test.db"));
                TestDb {
                    backend,
                    url,
                    storage: Storage::Sqlite(dir),
                }
            }
            Backend::Postgres => {
                let name = format!("pinit_test_{}", uuid::Uuid::new_v4().simple());
                let admin = postgres_admin_url();
                let mut conn = admin_connection(&admin).await;
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .unwrap_or_else(|e| panic!("create test database {name}: {e}"));
                let _ = conn.close().await;
                let mut url = url::Url::parse(&admin).expect("PINIT_TEST_POSTGRES_URL is a URL");
                url.set_path(&name);
                TestDb {
                    backend,
                    url: ConnectionUrl::parse(url.as_str()).expect("valid URL"),
                    storage: Storage::Postgres { name },
                }
            }
        }
    }

    /// Connects a pool to this database.
    pub async fn connect(&self) -> Db {
        Db::connect(&self.url, &DatabasePoolConfig::default())
            .await
            .expect("connect to the test database")
    }

    /// Creates a database and applies `sets` as `owner`.
    pub async fn migrated(
        backend: Backend,
        owner: &str,
        sets: &[&pinit_kernel::MigrationSet],
    ) -> (TestDb, Db) {
        let test_db = TestDb::new(backend).await;
        let db = test_db.connect().await;
        db.migrate(owner, sets).await.expect("migrations apply");
        (test_db, db)
    }
}

async fn admin_connection(admin: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(admin)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot reach PostgreSQL at {admin}: {e}. Start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
             or set PINIT_TEST_POSTGRES_URL"
            )
        })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Storage::Postgres { name } = &self.storage {
            let name = name.clone();
            // Drop from a thread of its own: this may run inside (or outside) a runtime.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    sqlx::any::install_default_drivers();
                    if let Ok(mut conn) = sqlx::AnyConnection::connect(&postgres_admin_url()).await
                    {
                        let _ = conn
                            .execute(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .await;
                        let _ = conn.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A router served on a random loopback port for the duration of a test.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub async fn spawn(router: axum::Router) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let stop = CancellationToken::new();
        let handle = tokio::spawn(pinit_kernel::http::serve(listener, router, stop.clone()));
        TestServer {
            addr,
            client: client(),
            stop,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops accepting, waits for in-flight requests, and returns the server's result.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.stop.cancel();
        self.handle.await.expect("server task")
    }
}

/// An HTTP client with test-friendly timeouts.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build an HTTP client")
}

/// A RabbitMQ virtual host of its own for one test, so that queues with the reference's fixed names
/// (`member.created.queue`, …) are not shared with other tests running at the same time. Created with
/// `rabbitmqctl` (the broker runs on the test machine), deleted when dropped.
pub struct TestVhost {
    pub name: String,
}

impl TestVhost {
    pub fn new() -> TestVhost {
        let name = format!("pinit_test_{}", uuid::Uuid::new_v4().simple());
        rabbitmqctl(&["add_vhost", &name]);
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]);
        TestVhost { name }
    }

    /// The AMQP URL of this vhost (the host and credentials of [`amqp_url`]).
    pub fn url(&self) -> String {
        let mut url = url::Url::parse(&amqp_url()).expect("PINIT_TEST_AMQP_URL is a URL");
        url.set_path(&format!("/{}", self.name));
        url.to_string()
    }
}

impl Default for TestVhost {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.name])
            .output();
    }
}

fn rabbitmqctl(args: &[&str]) {
    let output = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("run rabbitmqctl (the test broker runs on this machine)");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
