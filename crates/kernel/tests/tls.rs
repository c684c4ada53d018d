//! PostgreSQL over TLS, through a TLS endpoint of a test CA in front of the machine's PostgreSQL
//! (`pinit_testkit::tls`): what each `sslmode` accepts and refuses, client certificates, and the one-line
//! error a certificate that does not verify gives — at once, not after retries.

use std::time::{Duration, Instant};

use pinit_kernel::config::{ConnectionUrl, DatabasePoolConfig};
use pinit_kernel::tls::{SslMode, TlsSettings, postgres_url};
use pinit_kernel::{Db, DbError};
use pinit_testkit::tls::{ProxyTls, TestCa, TlsProxy, socket_addr_of};
use pinit_testkit::{Backend, TestDb};

/// A test database, reached through `proxy` by `host`.
fn through(db: &TestDb, proxy: &TlsProxy, host: &str) -> ConnectionUrl {
    let mut url = db.url.url().clone();
    url.set_host(Some(host)).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    ConnectionUrl::from_url(url)
}

async fn connect(url: &ConnectionUrl, mode: SslMode, tls: &TlsSettings) -> Result<Db, DbError> {
    let url = postgres_url(url, Some(mode), tls);
    Db::connect(&url, &DatabasePoolConfig::default()).await
}

async fn proxy(tls: ProxyTls) -> TlsProxy {
    TlsProxy::postgres(socket_addr_of(&pinit_testkit::postgres_admin_url()), tls).await
}

fn trusting(ca: &TestCa) -> TlsSettings {
    TlsSettings {
        ca_file: Some(ca.file()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_connects_to_a_certificate_of_the_trusted_ca_for_the_host() {
    let db = TestDb::new(Backend::Postgres).await;
    let ca = TestCa::new("test CA");
    let proxy = proxy(ProxyTls::presenting(ca.issue("server", &["localhost"]))).await;
    let pool = connect(
        &through(&db, &proxy, "localhost"),
        SslMode::VerifyFull,
        &trusting(&ca),
    )
    .await
    .expect("verify-full with the right CA and name");
    pool.ping().await.unwrap();
    assert!(proxy.tls_sessions() >= 1);
    assert_eq!(proxy.plain_sessions(), 0);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_of_another_ca_is_refused_at_once_with_one_line() {
    let db = TestDb::new(Backend::Postgres).await;
    let ca = TestCa::new("test CA");
    let other = TestCa::new("someone else's CA");
    let proxy = proxy(ProxyTls::presenting(other.issue("server", &["localhost"]))).await;
    for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
        let started = Instant::now();
        let err = connect(&through(&db, &proxy, "localhost"), mode, &trusting(&ca))
            .await
            .expect_err("a certificate of an untrusted CA");
        let text = err.to_string();
        assert!(matches!(err, DbError::Tls { .. }), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
        assert!(
            text.contains("UnknownIssuer") && text.contains(&ca.file().display().to_string()),
            "names the problem and the CA file: {text}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "refused at once, not retried until the acquire timeout: {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_certificate_for_another_name_and_verify_ca_does_not_check_it() {
    let db = TestDb::new(Backend::Postgres).await;
    let ca = TestCa::new("test CA");
    let proxy = proxy(ProxyTls::presenting(ca.issue("server", &["db.internal"]))).await;
    let url = through(&db, &proxy, "localhost");
    let err = connect(&url, SslMode::VerifyFull, &trusting(&ca))
        .await
        .expect_err("the certificate names db.internal, not localhost");
    let text = err.to_string();
    assert!(
        text.contains("not valid for name") && text.contains("must name the host `localhost`"),
        "{text}"
    );
    let pool = connect(&url, SslMode::VerifyCa, &trusting(&ca))
        .await
        .expect("verify-ca checks the CA only");
    pool.ping().await.unwrap();
    pool.close().await;
    // `require` encrypts without checking anything; `disable` goes around TLS altogether.
    let pool = connect(&url, SslMode::Require, &TlsSettings::default())
        .await
        .expect("require");
    pool.close().await;
    let plain_before = proxy.plain_sessions();
    let pool = connect(&url, SslMode::Disable, &TlsSettings::default())
        .await
        .expect("disable");
    pool.ping().await.unwrap();
    assert!(proxy.plain_sessions() > plain_before);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_certificate_is_presented_when_the_server_requires_one() {
    let db = TestDb::new(Backend::Postgres).await;
    let ca = TestCa::new("test CA");
    let proxy = proxy(
        ProxyTls::presenting(ca.issue("server", &["localhost"])).require_client_certificate(&ca),
    )
    .await;
    let url = through(&db, &proxy, "localhost");
    let without = connect(&url, SslMode::VerifyFull, &trusting(&ca)).await;
    assert!(without.is_err(), "no client certificate, no connection");
    let client = ca.issue("client", &["pinit"]);
    let with = TlsSettings {
        ca_file: Some(ca.file()),
        client_cert: Some(client.cert_file),
        client_key: Some(client.key_file),
    };
    let pool = connect(&url, SslMode::VerifyFull, &with)
        .await
        .expect("with the client certificate");
    pool.ping().await.unwrap();
    pool.close().await;
}

/// Outbound HTTPS (push services, OpenID providers) trusts the system store and, once the binary installed it,
/// `tls.ca_file`: a server behind a corporate CA is refused before and reached after. (nextest runs each test in a
/// process of its own, so the process-wide setting does not leak into other tests.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_https_trusts_the_extra_ca_once_installed() {
    use pinit_kernel::tls::{TlsMaterial, https_client, trust_for_https};
    let app =
        axum::Router::new().route("/", axum::routing::get(|| async { "behind a private CA" }));
    let server = pinit_testkit::TestServer::spawn(app).await;
    let ca = TestCa::new("corporate CA");
    let proxy = TlsProxy::https(
        socket_addr_of(&server.url("/")),
        ProxyTls::presenting(ca.issue("server", &["localhost"])),
    )
    .await;
    let url = format!("https://localhost:{}/", proxy.addr.port());

    let refused = https_client().build().unwrap().get(&url).send().await;
    let err = pinit_kernel::text::error_chain(&refused.expect_err("an unknown CA"));
    assert!(err.contains("UnknownIssuer"), "{err}");

    trust_for_https(&TlsMaterial::load(&trusting(&ca)).unwrap()).unwrap();
    let body = https_client()
        .build()
        .unwrap()
        .get(&url)
        .send()
        .await
        .expect("trusted now")
        .text()
        .await
        .unwrap();
    assert_eq!(body, "behind a private CA");
}

/// PostgreSQL's own TLS (a cluster with `ssl = on` that refuses plain TCP, set up by `.ci/postgres-tls.sh`):
/// `PINIT_TEST_POSTGRES_TLS_URL` and `PINIT_TEST_POSTGRES_TLS_CA`. CI always has it; elsewhere the test says how
/// to get it and passes.
fn real_postgresql() -> Option<(ConnectionUrl, std::path::PathBuf)> {
    match (
        std::env::var("PINIT_TEST_POSTGRES_TLS_URL"),
        std::env::var("PINIT_TEST_POSTGRES_TLS_CA"),
    ) {
        (Ok(url), Ok(ca)) => Some((ConnectionUrl::parse(&url).unwrap(), ca.into())),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI runs these against .ci/postgres-tls.sh; PINIT_TEST_POSTGRES_TLS_URL/_CA are not set"
            )
        }
        _ => {
            eprintln!(
                "skipped: no PostgreSQL with ssl = on (run `eval \"$(sudo bash .ci/postgres-tls.sh)\"` and export \
                 PINIT_TEST_POSTGRES_TLS_URL and PINIT_TEST_POSTGRES_TLS_CA)"
            );
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_postgresql_verify_full_is_encrypted_and_checks_ca_and_name() {
    let Some((url, ca)) = real_postgresql() else {
        return;
    };
    let trusted = TlsSettings {
        ca_file: Some(ca),
        ..Default::default()
    };
    let db = connect(&url, SslMode::VerifyFull, &trusted)
        .await
        .expect("verify-full against PostgreSQL's own TLS");
    let mut conn = db.conn().await.unwrap();
    let (ssl, version): (bool, String) =
        sqlx::query_as("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(ssl, "the server sees an encrypted connection");
    assert!(version.starts_with("TLS"), "{version}");
    drop(conn);
    db.close().await;

    let other = TestCa::new("not the server's CA");
    let err = connect(&url, SslMode::VerifyFull, &trusting(&other))
        .await
        .expect_err("another CA")
        .to_string();
    assert!(err.contains("UnknownIssuer"), "{err}");

    let mut by_address = url.url().clone();
    by_address.set_host(Some("127.0.0.1")).unwrap();
    let err = connect(
        &ConnectionUrl::from_url(by_address.clone()),
        SslMode::VerifyFull,
        &trusted,
    )
    .await
    .expect_err("the certificate names localhost, not 127.0.0.1")
    .to_string();
    assert!(
        err.contains("not valid for name") && err.contains("`127.0.0.1`"),
        "{err}"
    );
    connect(
        &ConnectionUrl::from_url(by_address),
        SslMode::VerifyCa,
        &trusted,
    )
    .await
    .expect("verify-ca does not check the name")
    .close()
    .await;
}
