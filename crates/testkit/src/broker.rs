//! A RabbitMQ node of a test's own, for tests that stop the broker and start it again (the shared broker on
//! 5672 serves every other test at the same time, so it must stay up).
//!
//! The node runs the machine's `rabbitmq-server` with its own name, ports, configuration and data directory
//! (a temporary directory: durable queues and persistent messages survive [`PrivateBroker::stop`] and
//! [`PrivateBroker::start_again`], as they would on a real broker's disk). Starting takes a few seconds.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a node may take to accept connections, or to exit once asked.
const WAIT: Duration = Duration::from_secs(90);

pub struct PrivateBroker {
    dir: tempfile::TempDir,
    node: String,
    port: u16,
    dist_port: u16,
}

impl PrivateBroker {
    /// Starts a node on free loopback ports and waits until it accepts AMQP connections.
    pub async fn start() -> PrivateBroker {
        let dir = tempfile::tempdir().expect("a directory for the broker");
        let port = free_port();
        let dist_port = free_port();
        let broker = PrivateBroker {
            node: format!("pinit-test-{port}@localhost"),
            dir,
            port,
            dist_port,
        };
        for sub in ["mnesia", "log"] {
            std::fs::create_dir_all(broker.dir.path().join(sub)).expect("broker directories");
        }
        std::fs::write(broker.dir.path().join("enabled_plugins"), "[].\n").expect("plugins");
        std::fs::write(broker.dir.path().join("env.conf"), "").expect("env file");
        std::fs::write(
            broker.dir.path().join("rabbitmq.conf"),
            format!("listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n"),
        )
        .expect("configuration");
        broker.start_again().await;
        broker
    }

    /// `amqp://guest:guest@127.0.0.1:<port>/%2f`.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Starts the node (again, after [`PrivateBroker::stop`]) and waits until it accepts connections.
    pub async fn start_again(&self) {
        let d = self.dir.path();
        let status = Command::new(server_script())
            .arg("-detached")
            .current_dir(d)
            .env("HOME", d)
            .env("RABBITMQ_CONF_ENV_FILE", d.join("env.conf"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_PID_FILE", self.pid_file())
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .status()
            .expect("rabbitmq-server runs");
        assert!(status.success(), "rabbitmq-server -detached: {status}");
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let since = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                since.elapsed() < WAIT,
                "the test broker {} did not listen on {addr} within {WAIT:?}; its log is in {}",
                self.node,
                d.join("log").display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the node (SIGTERM, a clean shutdown) and waits until its process is gone.
    pub async fn stop(&self) {
        let Some(pid) = self.pid() else { return };
        let _ = Command::new("kill").arg(pid.to_string()).status();
        let since = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(since.elapsed() < WAIT, "the test broker {pid} did not stop");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = std::fs::remove_file(self.pid_file());
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.path().join("node.pid")
    }

    /// The running node's process, from its pid file (written once the node has started).
    fn pid(&self) -> Option<u32> {
        let since = Instant::now();
        loop {
            if let Some(pid) = std::fs::read_to_string(self.pid_file())
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                return Some(pid);
            }
            if since.elapsed() > Duration::from_secs(10) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.pid_file()) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
    }
}

/// Debian's server script (run directly: the `/usr/sbin` wrapper switches to the `rabbitmq` user, whose home
/// and data directory are the shared node's), else `rabbitmq-server` from `PATH`.
fn server_script() -> &'static str {
    const DEBIAN: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    if Path::new(DEBIAN).exists() {
        DEBIAN
    } else {
        "rabbitmq-server"
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
