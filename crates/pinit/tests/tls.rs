//! A service whose database or broker certificate does not verify stops at start-up with one line that names
//! the CA and the host — at once, not a hang and not a retry storm. (The journey over TLS is in journey.rs.)

mod support;

use std::time::{Duration, Instant};

use pinit_kernel::Backend;
use pinit_testkit::TestDb;
use support::system::TlsEndpoints;

/// Runs `pinit task` with `env` until it exits; its exit code, its stderr and how long it took.
async fn task_service(env: Vec<(String, String)>) -> (i32, String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys").to_string_lossy().into_owned();
    let started = Instant::now();
    let (code, _, err) = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut env = env;
        env.push(("PINIT_KEYS_DIR", &keys));
        env.push(("PINIT_TASK_GRPC_PORT", "0"));
        support::run(
            &["task", "--host", "127.0.0.1", "--port", "0"],
            &env,
            dir.path(),
        )
    })
    .await
    .unwrap();
    (code, err, started.elapsed())
}

fn with(base: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = base;
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("ERROR") || l.starts_with("pinit:"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_certificate_of_another_ca_stops_the_start_with_one_line() {
    let tls = TlsEndpoints::start().await;
    let db = TestDb::new(Backend::Postgres).await;
    let other = pinit_testkit::tls::TestCa::new("not the server's CA");
    let other_ca = other.file().to_string_lossy().into_owned();
    let env = with(
        tls.env(),
        &[
            ("PINIT_TASK_DATABASE_URL", &tls.through(db.url.expose())),
            ("PINIT_TLS_CA_FILE", &other_ca),
        ],
    );
    let (code, stderr, took) = task_service(env).await;
    assert_ne!(code, 0, "{stderr}");
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "one line: {stderr}");
    assert!(
        errors[0].contains("UnknownIssuer")
            && errors[0].contains(&other_ca)
            && errors[0].contains("`localhost`"),
        "names the CA and the host: {stderr}"
    );
    assert!(took < Duration::from_secs(15), "at once: {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_certificate_for_another_name_stops_the_start_with_one_line() {
    let tls = TlsEndpoints::start().await;
    let db = TestDb::new(Backend::Postgres).await;
    // The database is fine; the broker is reached by an address its certificate does not name.
    let mut amqps = url::Url::parse(&tls.through(&pinit_testkit::amqp_url())).unwrap();
    amqps.set_host(Some("127.0.0.1")).unwrap();
    let env = with(
        tls.env(),
        &[
            ("PINIT_TASK_DATABASE_URL", &tls.through(db.url.expose())),
            ("PINIT_AMQP_URL", amqps.as_str()),
        ],
    );
    let (code, stderr, took) = task_service(env).await;
    assert_ne!(code, 0, "{stderr}");
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "one line: {stderr}");
    assert!(
        errors[0].contains("RabbitMQ")
            && errors[0].contains("not valid for name")
            && errors[0].contains("`127.0.0.1`"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(15), "at once: {took:?}");
}
