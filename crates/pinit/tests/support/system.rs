//! The whole system for end-to-end tests, in either run mode, reached only through its gateway:
//!
//! * [`Layout::Embedded`] — `pinit serve` on SQLite, one process;
//! * [`Layout::Distributed`] — `pinit auth|task|notification|gateway` as four processes on PostgreSQL (a fresh
//!   database per service) and RabbitMQ (a virtual host of its own).
//! * [`Layout::DistributedTls`] — the same, every database and broker connection over TLS: `sslmode=verify-full`
//!   and `amqps://` to TLS endpoints of a test CA that also require the services' client certificate
//!   (`pinit_testkit::tls`).
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use pinit_kernel::Backend;
use pinit_testkit::tls::{ProxyTls, TestCa, TlsProxy, socket_addr_of};
use pinit_testkit::{TestDb, TestVhost};

use super::{Pinit, run};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Embedded,
    Distributed,
    DistributedTls,
}

pub struct System {
    /// The gateway's base URL.
    pub url: String,
    pub layout: Layout,
    /// Processes by name, the gateway last.
    pub processes: Vec<(&'static str, Pinit)>,
    pub dir: tempfile::TempDir,
    _databases: Vec<TestDb>,
    _vhost: Option<TestVhost>,
    /// The TLS endpoints of [`Layout::DistributedTls`].
    pub tls: Option<TlsEndpoints>,
    /// How each distributed process was started (its arguments and environment), for [`System::restart`].
    commands: Vec<Command>,
}

/// A process's name, arguments and environment.
type Command = (&'static str, Vec<String>, Vec<(String, String)>);

/// TLS in front of the test PostgreSQL and RabbitMQ, with the files the services are configured with.
pub struct TlsEndpoints {
    pub ca: TestCa,
    pub postgres: TlsProxy,
    pub amqps: TlsProxy,
}

impl TlsEndpoints {
    /// Endpoints whose certificates name `localhost` and that require a client certificate of the same CA.
    pub async fn start() -> TlsEndpoints {
        let ca = TestCa::new("Pinit test CA");
        let server = || ProxyTls::presenting(ca.issue("server", &["localhost"]));
        let postgres = TlsProxy::postgres(
            socket_addr_of(&pinit_testkit::postgres_admin_url()),
            server().require_client_certificate(&ca),
        )
        .await;
        let amqps = TlsProxy::amqps(
            socket_addr_of(&pinit_testkit::amqp_url()),
            server().require_client_certificate(&ca),
        )
        .await;
        ca.issue("client", &["pinit"]);
        TlsEndpoints {
            ca,
            postgres,
            amqps,
        }
    }

    /// `url` (the test PostgreSQL or RabbitMQ) through its TLS endpoint, by the certificate's name.
    pub fn through(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).expect("a URL");
        let proxy = if url.scheme().starts_with("amqp") {
            url.set_scheme("amqps").expect("amqps");
            &self.amqps
        } else {
            &self.postgres
        };
        url.set_host(Some("localhost")).expect("host");
        url.set_port(Some(proxy.addr.port())).expect("port");
        url.to_string()
    }

    /// The settings every service gets: verify-full, the CA, the client certificate.
    pub fn env(&self) -> Vec<(String, String)> {
        let file = |name: &str| self.ca.dir().join(name).to_string_lossy().into_owned();
        owned(&[
            ("PINIT_DATABASE_SSL_MODE", "verify-full"),
            ("PINIT_TLS_CA_FILE", &file("ca.pem")),
            ("PINIT_TLS_CLIENT_CERT", &file("client.pem")),
            ("PINIT_TLS_CLIENT_KEY", &file("client.key")),
        ])
    }
}

/// A free loopback port (for listeners whose address must be known before start, such as task's gRPC).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_blocking(args: Vec<String>, env: Vec<(String, String)>, dir: PathBuf) -> Pinit {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Pinit::start(&args, &env, &dir)
}

async fn start(args: &[&str], env: Vec<(String, String)>, dir: &Path) -> Pinit {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || start_blocking(args, env, dir))
        .await
        .expect("start a pinit process")
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl System {
    /// Starts the system and waits until the gateway reports every service ready. `env` goes to every process.
    pub async fn start(layout: Layout, env: &[(&str, &str)]) -> System {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut base = owned(env);
        base.push(("PINIT_PUSH_ALLOW_INSECURE_ENDPOINTS".into(), "1".into()));
        let system = match layout {
            Layout::Embedded => {
                let pinit = start(&["serve", "--port", "0"], base, dir.path()).await;
                System {
                    url: pinit.url.clone(),
                    layout,
                    processes: vec![("serve", pinit)],
                    dir,
                    _databases: Vec::new(),
                    _vhost: None,
                    tls: None,
                    commands: Vec::new(),
                }
            }
            Layout::Distributed => Self::distributed(dir, base, None).await,
            Layout::DistributedTls => {
                Self::distributed(dir, base, Some(TlsEndpoints::start().await)).await
            }
        };
        system.wait_healthy(Duration::from_secs(60)).await;
        system
    }

    async fn distributed(
        dir: tempfile::TempDir,
        base: Vec<(String, String)>,
        tls: Option<TlsEndpoints>,
    ) -> System {
        let keys = dir.path().join("keys");
        let keys_dir = keys.to_string_lossy().into_owned();
        let (code, _, err) = run(&["keys", "generate", "--dir", &keys_dir], &[], dir.path());
        assert_eq!(code, 0, "keys generate: {err}");
        // A broker the test brought (`PINIT_AMQP_URL` in `env`, e.g. a PrivateBroker it stops) or a vhost of the
        // shared one.
        let given_broker = base
            .iter()
            .find(|(k, _)| k == "PINIT_AMQP_URL")
            .map(|(_, v)| v.clone());
        let vhost = given_broker.is_none().then(TestVhost::new);
        let amqp_url =
            given_broker.unwrap_or_else(|| vhost.as_ref().map(TestVhost::url).unwrap_or_default());
        let mut databases = Vec::new();
        for _ in 0..3 {
            databases.push(TestDb::new(Backend::Postgres).await);
        }
        // Through the TLS endpoints when there are some; the URL says nothing of TLS, the settings do.
        let via = |url: &str| match &tls {
            Some(tls) => tls.through(url),
            None => url.to_string(),
        };
        let db_urls: Vec<String> = databases.iter().map(|d| via(d.url.expose())).collect();
        let grpc_port = free_port().to_string();
        let mut common = base.clone();
        common.extend(owned(&[
            ("PINIT_AMQP_URL", &via(&amqp_url)),
            ("PINIT_KEYS_DIR", &keys_dir),
        ]));
        if let Some(tls) = &tls {
            common.extend(tls.env());
        }
        let with = |extra: &[(&str, &str)]| {
            let mut env = common.clone();
            env.extend(owned(extra));
            env
        };
        let service = ["--host", "127.0.0.1", "--port", "0"];
        let mut commands = Vec::new();
        let mut remember = |name: &'static str, args: &[&str], env: Vec<(String, String)>| {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            commands.push((name, args, env.clone()));
            env
        };
        let task_args = [&["task"][..], &service[..]].concat();
        let task_env = remember(
            "task",
            &task_args,
            with(&[
                ("PINIT_TASK_DATABASE_URL", &db_urls[1]),
                ("PINIT_TASK_GRPC_PORT", &grpc_port),
            ]),
        );
        let task = start(&task_args, task_env, dir.path()).await;
        let auth = start(
            &[&["auth"][..], &service[..]].concat(),
            with(&[("PINIT_AUTH_DATABASE_URL", &db_urls[0])]),
            dir.path(),
        )
        .await;
        let grpc_url = format!("http://127.0.0.1:{grpc_port}");
        let notification_args = [&["notification"][..], &service[..]].concat();
        let notification_env = remember(
            "notification",
            &notification_args,
            with(&[
                ("PINIT_NOTIFICATION_DATABASE_URL", &db_urls[2]),
                ("PINIT_NOTIFICATION_TASK_GRPC_URL", &grpc_url),
            ]),
        );
        let notification = start(&notification_args, notification_env, dir.path()).await;
        let gateway = start(
            &[&["gateway"][..], &service[..]].concat(),
            with(&[
                ("PINIT_GATEWAY_AUTH_URL", &auth.url),
                ("PINIT_GATEWAY_TASK_URL", &task.url),
                ("PINIT_GATEWAY_NOTIFICATION_URL", &notification.url),
            ]),
            dir.path(),
        )
        .await;
        System {
            url: gateway.url.clone(),
            layout: if tls.is_some() {
                Layout::DistributedTls
            } else {
                Layout::Distributed
            },
            processes: vec![
                ("auth", auth),
                ("task", task),
                ("notification", notification),
                ("gateway", gateway),
            ],
            dir,
            _databases: databases,
            _vhost: vhost,
            tls,
            commands,
        }
    }

    /// The auth database of a distributed system (`None` when embedded: its auth.db is in the data directory).
    pub fn auth_database_url(&self) -> Option<String> {
        self._databases.first().map(|d| d.url.expose().to_string())
    }

    /// Every service database: PostgreSQL URLs (auth, task, notification) when distributed, the data directory's
    /// SQLite files when embedded.
    pub fn database_urls(&self) -> Vec<String> {
        if self._databases.is_empty() {
            let data = self.dir.path().join("pinit-data");
            ["auth", "task", "notification"]
                .iter()
                .map(|n| {
                    pinit_kernel::Db::sqlite_url(&data.join(format!("{n}.db")))
                        .expose()
                        .to_string()
                })
                .collect()
        } else {
            self._databases
                .iter()
                .map(|d| d.url.expose().to_string())
                .collect()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    async fn wait_healthy(&self, within: Duration) {
        let client = pinit_testkit::client();
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(res) = client.get(self.url("/health")).send().await {
                if res.status() == 200 {
                    return;
                }
                last = res.text().await.unwrap_or_default();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the system did not become healthy: {last}");
    }

    /// Kills a distributed system's process `name` (`task` or `notification`) with SIGKILL — no shutdown, work in
    /// flight is cut off — and starts it again as it was started, on the same port (the gateway keeps its URL).
    pub async fn restart(&mut self, name: &str) {
        let (_, args, env) = self
            .commands
            .iter()
            .find(|(n, _, _)| *n == name)
            .cloned()
            .unwrap_or_else(|| panic!("no restartable process {name}"));
        let at = self
            .processes
            .iter()
            .position(|(n, _)| *n == name)
            .expect("a running process of that name");
        let (name, old) = self.processes.remove(at);
        let port = url::Url::parse(&old.url)
            .ok()
            .and_then(|u| u.port())
            .expect("a port")
            .to_string();
        old.signal("KILL");
        let _ = tokio::task::spawn_blocking(move || old.wait(Duration::from_secs(10))).await;
        let args: Vec<&str> = args
            .iter()
            .map(|a| if a == "0" { port.as_str() } else { a.as_str() })
            .collect();
        let again = start(&args, env, self.dir.path()).await;
        self.processes.insert(at, (name, again));
    }

    /// SIGTERM to every process (gateway first) and their exit statuses.
    pub async fn stop(self) -> Vec<(&'static str, ExitStatus)> {
        let System { processes, .. } = self;
        tokio::task::spawn_blocking(move || {
            processes
                .into_iter()
                .rev()
                .map(|(name, p)| (name, p.stop()))
                .collect()
        })
        .await
        .expect("stop processes")
    }
}
