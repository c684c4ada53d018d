//! The command line itself: help, configuration errors, keys, migrations.

mod support;

use pinit_testkit::{Backend, TestDb};
use support::run;

#[test]
fn help_reads_well() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(&["--help"], &[], dir.path());
    assert_eq!(code, 0);
    for command in [
        "serve",
        "auth",
        "task",
        "notification",
        "gateway",
        "migrate",
        "keys",
        "config",
    ] {
        assert!(out.contains(command), "--help lists {command}:\n{out}");
    }
    assert!(
        out.contains("PINIT_"),
        "--help explains the environment:\n{out}"
    );
    for command in [
        vec!["serve", "--help"],
        vec!["task", "--help"],
        vec!["migrate", "--help"],
        vec!["keys", "generate", "--help"],
        vec!["keys", "rotate", "--help"],
        vec!["backup", "--help"],
        vec!["restore", "--help"],
        vec!["config", "--help"],
    ] {
        let (code, out, err) = run(&command, &[], dir.path());
        assert_eq!(code, 0, "{command:?}: {err}");
        assert!(out.contains("Usage: pinit"), "{command:?}:\n{out}");
        // Each option states its default once (clap adds `[default: …]` itself).
        for line in out.lines() {
            assert!(
                line.matches("[default:").count() <= 1,
                "{command:?} says a default twice: {line}"
            );
        }
    }
}

#[test]
fn a_bad_value_is_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    for (env, expect) in [
        (("PINIT_HTTP_PORT", "eighty"), "http.port (PINIT_HTTP_PORT)"),
        (("PINIT_LOG_FORMAT", "xml"), "`pretty`, `json`"),
        (("PINIT_SHUTDOWN_DRAIN_TIMEOUT", "-3s"), "negative"),
        (
            ("PINIT_TASK_DATABASE_URL", "mysql://x/y"),
            "task.database_url",
        ),
        (
            ("PINIT_DATABASE_SSL_MODE", "verify"),
            "`verify` is not an sslmode; use one of disable, prefer, require, verify-ca, verify-full",
        ),
        (
            ("PINIT_TLS_CA_FILE", "/nonexistent/ca.pem"),
            "tls.ca_file (PINIT_TLS_CA_FILE) cannot read /nonexistent/ca.pem",
        ),
        (
            ("PINIT_TLS_CLIENT_KEY", "/nonexistent/client.key"),
            "tls.client_key (PINIT_TLS_CLIENT_KEY) goes with tls.client_cert",
        ),
        (
            ("PINIT_INTERNAL_IDENTITY_KEY", "c2hvcnQ="),
            "internal.identity_key (PINIT_INTERNAL_IDENTITY_KEY) is not a key",
        ),
        (
            ("PINIT_INTERNAL_PREVIOUS_IDENTITY_KEY", "nope"),
            "internal.previous_identity_key (PINIT_INTERNAL_PREVIOUS_IDENTITY_KEY) is not a key",
        ),
    ] {
        let (code, _, stderr) = run(&["serve"], &[env], dir.path());
        assert_eq!(code, 2, "{env:?}: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "one line for {env:?}: {stderr}"
        );
        assert!(stderr.contains(expect), "{env:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (code, _, stderr) = run(&["task"], &[], dir.path());
    assert_eq!(code, 2);
    assert!(
        stderr.contains("task.database_url (PINIT_TASK_DATABASE_URL) is required"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["--config", "missing.toml", "serve"], &[], dir.path());
    assert_eq!(code, 2);
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn config_prints_the_effective_values_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        &["config", "--for", "task"],
        &[
            (
                "PINIT_TASK_DATABASE_URL",
                "postgres://pinit:s3cret@db/pinit_task",
            ),
            ("PINIT_HTTP_PORT", "8181"),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("port = 8181"), "{out}");
    assert!(
        out.contains("postgres://pinit:REDACTED@db/pinit_task"),
        "{out}"
    );
    assert!(!out.contains("s3cret"), "{out}");
    assert!(
        !out.contains("guest:guest"),
        "broker password redacted too:\n{out}"
    );
}

#[test]
fn keys_generate_writes_keys_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(&["keys", "generate", "--dir", "k"], &[], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("VAPID public key: B"), "{out}");
    assert!(out.contains("JWT key id (kid): "), "{out}");
    assert!(dir.path().join("k/jwt-private.pem").is_file());
    let (code, _, err) = run(&["keys", "generate", "--dir", "k"], &[], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("already exists; pass --force"), "{err}");
    let (code, _, err) = run(
        &[
            "keys", "generate", "--dir", "k", "--only", "vapid", "--force",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
}

async fn migrate_is_idempotent_and_guards_ownership(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let task_db = TestDb::new(backend).await;
    let url = task_db.url.expose().to_string();
    let env = [("PINIT_TASK_DATABASE_URL", url.as_str())];
    let dir_path = dir.path().to_path_buf();
    let run_blocking = |args: Vec<&'static str>, env: Vec<(&'static str, String)>| {
        let dir = dir_path.clone();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            run(&args, &env, &dir)
        })
    };
    let owned_env = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    };
    for _ in 0..2 {
        let (code, out, err) = run_blocking(vec!["migrate", "--service", "task"], owned_env(&env))
            .await
            .unwrap();
        assert_eq!(code, 0, "{err}");
        assert!(out.starts_with("task: "), "{out}");
        // PostgreSQL's NOTICEs ("relation … already exists, skipping") are not logged at info.
        assert!(!err.contains("already exists"), "{err}");
    }
    // The auth service pointed at the task database is refused, and nothing is created there.
    let (code, _, err) = run_blocking(
        vec!["migrate", "--service", "auth"],
        owned_env(&[("PINIT_AUTH_DATABASE_URL", url.as_str())]),
    )
    .await
    .unwrap();
    assert_eq!(code, 1);
    assert!(
        err.contains("belongs to the `task` context, not `auth`"),
        "{err}"
    );
}

pinit_testkit::both_backends!(migrate_is_idempotent_and_guards_ownership);

#[test]
fn keys_rotate_explains_itself_and_waits_for_the_previous_key_to_retire() {
    let dir = tempfile::tempdir().unwrap();
    let (code, help, _) = run(&["keys", "rotate", "--help"], &[], dir.path());
    assert_eq!(code, 0);
    for needle in [
        "without a restart",
        "jwt-previous-private.pem",
        "--activate-after",
        "access-token lifetime",
        "--vapid",
        "subscribe again",
    ] {
        assert!(
            help.contains(needle),
            "`keys rotate --help` says {needle}:\n{help}"
        );
    }

    let keys = dir.path().join("k");
    let keys = keys.to_str().unwrap();
    assert_eq!(
        run(&["keys", "generate", "--dir", keys], &[], dir.path()).0,
        0
    );
    let (code, out, err) = run(&["keys", "rotate", "--dir", keys], &[], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("new JWT key id (kid):"), "{out}");
    assert!(out.contains("wrote"), "{out}");
    let (code, _, err) = run(&["keys", "rotate", "--dir", keys], &[], dir.path());
    assert_eq!(code, 1, "a second rotation waits: {err}");
    assert!(
        err.contains("still accepted until") && err.contains("--force"),
        "{err}"
    );
    let (code, _, err) = run(
        &["keys", "rotate", "--dir", keys, "--force"],
        &[],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");

    let vapid = std::path::Path::new(keys).join("vapid-public.txt");
    let before = std::fs::read_to_string(&vapid).unwrap();
    let (code, out, err) = run(
        &["keys", "rotate", "--dir", keys, "--vapid"],
        &[],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("subscribe again"), "{out}");
    assert_ne!(std::fs::read_to_string(&vapid).unwrap(), before);
}
