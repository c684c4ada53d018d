//! docs/run-distributed.md, run as written: its *(tested)* shell blocks in one `bash` (PostgreSQL role and
//! databases, RabbitMQ vhost and user, keys, the env file from `deploy/systemd/pinit.env`), then each systemd unit
//! of `deploy/systemd/` started the way systemd would — its `ExecStart=` with the drop-in's `EnvironmentFile=`
//! and `Environment=` and nothing else — and a member's journey through the gateway. The doc's "What the test
//! changes" section lists every difference; keep the two in step.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::member::provisioned_member_at;
use support::{BIN, Pinit};

const DOC: &str = "docs/run-distributed.md";
const UNITS: &str = "deploy/systemd";
/// What the doc installs; the test puts it in a temporary directory.
const ETC: &str = "/etc/pinit";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ```sh blocks right after a `<!-- tested -->` line, in order.
fn tested_blocks(doc: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- tested -->" {
            continue;
        }
        assert_eq!(
            lines.next().map(str::trim),
            Some("```sh"),
            "{DOC}: a `<!-- tested -->` line must be followed by a ```sh block"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        blocks.push(block.join("\n"));
    }
    blocks
}

/// The `[Service]` settings of a unit with the shared drop-in applied (drop-in first, as systemd reads them);
/// repeated keys keep every value.
fn service_settings(unit: &str) -> BTreeMap<String, Vec<String>> {
    let dir = repo().join(UNITS);
    let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in [
        dir.join("pinit-.service.d/10-pinit.conf"),
        dir.join(format!("{unit}.service")),
    ] {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut in_service = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_service = line == "[Service]";
            } else if in_service
                && !line.is_empty()
                && !line.starts_with('#')
                && let Some((key, value)) = line.split_once('=')
            {
                settings
                    .entry(key.trim().to_string())
                    .or_default()
                    .push(value.trim().to_string());
            }
        }
    }
    settings
}

/// An `EnvironmentFile=` read as systemd reads one: `KEY=VALUE` lines, `#`/`;` comments, quotes removed.
fn environment_file(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=VALUE");
            (k.trim().into(), v.trim().trim_matches('"').into())
        })
        .collect()
}

/// The command systemd would run for `unit`, with only the environment the unit gives it.
fn unit_command(unit: &str, etc: &Path) -> Command {
    let settings = service_settings(unit);
    let exec = &settings["ExecStart"];
    assert_eq!(exec.len(), 1, "{unit}: one ExecStart");
    let mut argv = exec[0].split_whitespace();
    assert_eq!(argv.next(), Some("/usr/local/bin/pinit"), "{unit}");
    let mut command = Command::new(BIN);
    command.args(argv).env_clear().current_dir("/");
    command.env("PATH", "/usr/local/bin:/usr/bin:/bin");
    for file in &settings["EnvironmentFile"] {
        let file = file.replace(ETC, &etc.display().to_string());
        // Paths in the file (PINIT_KEYS_DIR) move with /etc/pinit.
        command.envs(
            environment_file(Path::new(&file))
                .into_iter()
                .map(|(k, v)| (k, v.replace(ETC, &etc.display().to_string()))),
        );
    }
    for assignment in settings.get("Environment").into_iter().flatten() {
        let (k, v) = assignment.split_once('=').expect("Environment=KEY=VALUE");
        command.env(k, v);
    }
    command
}

/// Removes what the doc creates (also left over by an interrupted earlier run).
fn clean_up() {
    let mut psql = Command::new("psql");
    psql.args([
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "SET client_min_messages = warning",
    ]);
    // One statement per -c: DROP DATABASE cannot run inside the transaction several would share.
    for database in ["pinit_auth", "pinit_task", "pinit_notification"] {
        psql.args([
            "-c",
            &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        ]);
    }
    let status = psql
        .args(["-c", "DROP ROLE IF EXISTS pinit"])
        .status()
        .expect("psql");
    assert!(status.success(), "dropping the doc's databases and role");
    for args in [["delete_vhost", "pinit"], ["delete_user", "pinit"]] {
        let _ = Command::new("rabbitmqctl").args(args).output();
    }
}

struct CleanUp;

impl Drop for CleanUp {
    fn drop(&mut self) {
        clean_up();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_vm_setup_runs_as_written() {
    let doc = std::fs::read_to_string(repo().join(DOC)).unwrap();
    let blocks = tested_blocks(&doc);
    assert!(blocks.len() >= 5, "{DOC} lost its tested blocks");
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path().join("etc/pinit");
    std::fs::create_dir_all(etc.parent().unwrap()).unwrap();

    clean_up();
    let _clean_up = CleanUp;
    let prelude = "set -euo pipefail\n\
        # The test's stand-ins for what a host has (docs/run-distributed.md, \"What the test changes\").\n\
        sudo() { while [ \"${1:-}\" = -u ]; do shift 2; done; \"$@\"; }\n\
        chown() { :; }\n\
        export -f sudo chown\n\
        export PGHOST=127.0.0.1 PGUSER=postgres\n";
    let script =
        format!("{prelude}{}\n", blocks.join("\n")).replace(ETC, &etc.display().to_string());
    let bin_dir = Path::new(BIN).parent().unwrap();
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(repo())
        .env(
            "PATH",
            format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
        )
        .output()
        .expect("bash");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the doc's commands failed:\n{stderr}\n--- script ---\n{script}"
    );
    assert!(
        !stderr.contains("unknown") && !stderr.contains("invalid"),
        "the env file is not clean: {stderr}"
    );
    let env = std::fs::read_to_string(etc.join("pinit.env")).unwrap();
    let unfilled: Vec<&str> = env
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("CHANGE_ME"))
        .collect();
    assert!(unfilled.is_empty(), "placeholders left: {unfilled:?}");
    for key in ["jwt-private.pem", "jwt-public.pem", "vapid-private.pem"] {
        assert!(etc.join("keys").join(key).is_file(), "{key}");
    }

    // systemctl start pinit-migrate: the one-shot runs to its end first.
    let migrate = unit_command("pinit-migrate", &etc).output().unwrap();
    assert!(
        migrate.status.success(),
        "pinit migrate: {}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    // Then the four services, with their default ports.
    let services: Vec<Pinit> = ["auth", "task", "notification", "gateway"]
        .into_iter()
        .map(|service| Pinit::spawn(unit_command(&format!("pinit-{service}"), &etc)))
        .collect();
    let expected = [
        "http://127.0.0.1:8081",
        "http://127.0.0.1:8082",
        "http://127.0.0.1:8083",
        "http://127.0.0.1:8080",
    ];
    for (service, url) in services.iter().zip(expected) {
        assert_eq!(service.url, url, "each service on its own default port");
    }
    let gateway = services[3].url.clone();

    let http = pinit_testkit::client();
    let member = provisioned_member_at(&gateway, &http, "vm-operator").await;
    let started = http
        .post(format!(
            "{gateway}/v2/schedules/{}/start",
            member.schedule_id
        ))
        .bearer_auth(&member.token)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 204);
    let schedule: Value = http
        .get(format!("{gateway}/v2/schedules/{}", member.schedule_id))
        .bearer_auth(&member.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(schedule["state"], "IN_PROGRESS", "{schedule}");

    // Every replica of every service is ready, as the doc's `curl …/health` shows.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let res = http.get(format!("{gateway}/health")).send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        if status == 200 {
            assert_eq!(body["status"], "ok");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status} {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for service in services.into_iter().rev() {
        let problems = service.problems();
        assert_eq!(service.stop().code(), Some(0), "clean stop on SIGTERM");
        assert!(problems.is_empty(), "warnings or errors: {problems:?}");
    }
}
