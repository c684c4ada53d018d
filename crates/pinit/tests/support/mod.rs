//! Drives the real `pinit` binary: start it, find where it listens, signal it, read its logs.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod member;
pub mod system;

pub const BIN: &str = env!("CARGO_BIN_EXE_pinit");

/// The gateway-to-service identity key every process of a test shares (`internal.identity_key`, 32 bytes in
/// base64); a test's own `env` may override it.
pub const IDENTITY_KEY: &str = "cGluaXQtdGVzdC1pZGVudGl0eS1rZXktMzItYnl0ZXM=";

/// A running `pinit` process with JSON logs.
pub struct Pinit {
    child: Child,
    pub url: String,
    pub logs: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Pinit {
    /// Starts `pinit <args>` in `cwd` with `env`, waiting until it logs its listening address.
    pub fn start(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Pinit {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(cwd)
            .env("PINIT_LOG_FORMAT", "json")
            .env("PINIT_METRICS_PORT", "0")
            .env("PINIT_INTERNAL_IDENTITY_KEY", IDENTITY_KEY)
            // Tests stop processes often; those about shutdown set their own.
            .env("PINIT_SHUTDOWN_LAME_DUCK", "0s");
        for (k, v) in env {
            command.env(k, v);
        }
        Pinit::spawn(command)
    }

    /// Starts `command` as it is (it must log JSON: `PINIT_LOG_FORMAT=json`), waiting until it logs its
    /// listening address.
    pub fn spawn(mut command: Command) -> Pinit {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start pinit");
        let stderr = child.stderr.take().expect("stderr piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                    eprintln!("[pinit stderr] {line}");
                    continue;
                };
                let message = value["message"].as_str().unwrap_or_default();
                if message == "Pinit is running" {
                    let _ = tx.send(value["url"].as_str().unwrap_or_default().to_string());
                } else if message == "listening" {
                    let _ = tx.send(format!(
                        "http://{}",
                        value["http"].as_str().unwrap_or_default()
                    ));
                }
                sink.lock().unwrap().push(value);
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("pinit did not start; logs: {:#?}", logs.lock().unwrap());
            }
        };
        Pinit { child, url, logs }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit.
    pub fn wait(mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("pinit did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait.
    pub fn stop(self) -> ExitStatus {
        self.signal("TERM");
        self.wait(Duration::from_secs(30))
    }

    /// Warnings and errors logged so far, as JSON lines.
    pub fn problems(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| matches!(l["level"].as_str(), Some("WARN" | "ERROR")))
            .map(|l| l.to_string())
            .collect()
    }

    pub fn logged(&self, message: &str) -> bool {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l["message"] == message)
    }
}

impl Drop for Pinit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `pinit <args>` to completion: (exit code, stdout, stderr).
pub fn run(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> (i32, String, String) {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(cwd)
        .env("PINIT_METRICS_PORT", "0")
        .env("PINIT_INTERNAL_IDENTITY_KEY", IDENTITY_KEY)
        // Tests stop processes often; those about shutdown set their own.
        .env("PINIT_SHUTDOWN_LAME_DUCK", "0s");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("run pinit");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
